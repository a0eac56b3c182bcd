"""Files: reading updated files, layouts, row validation, exporting, importing, orders intake.

Nothing here touches the network; the store is reached through its functions.
"""
