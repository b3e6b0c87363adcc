"""The kiosk's side of signed content delivery: fetch (TUF), unpack, store, health, update.

fetch.py    TufClient: python-tuf ngclient over HTTPS; failures as small typed errors
unpack.py   which archive members a bundle may have (pure), and extracting only those
store.py    versions on disk, the ``current`` symlink switched atomically, ``last_good``
health.py   keep, roll back or confirm a freshly switched bundle (pure)
updater.py  ContentUpdater: nudges and start-up checks in, ContentEvent reports out
"""
