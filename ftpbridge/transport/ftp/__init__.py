"""FTP and FTPS (explicit TLS) with ftplib.

- ``listing``: MLSD and LIST (Unix, Windows/IIS) answers parsed into entries.
- ``tls``: FTPS data connections that resume the control connection's TLS session.
- ``connection``: connect, TLS, log in, retries, ftplib's errors translated.
- ``directories``: MLSD, LIST, NLST listings read as bounded streams.
- ``transport``: :class:`FTPTransport`, the Transport protocol over ftplib: transfers and
  file operations on top of those two.
"""

from ftpbridge.transport.ftp.listing import parse_list_line, parse_mlsd_line
from ftpbridge.transport.ftp.transport import FTPTransport

__all__ = ["FTPTransport", "parse_list_line", "parse_mlsd_line"]
