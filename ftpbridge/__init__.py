"""ftpbridge: orders and shipment confirmations over FTP, FTPS and SFTP."""

__version__ = "0.1.0"
