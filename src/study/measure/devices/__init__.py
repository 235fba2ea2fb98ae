"""Devices that time a profile's cases while the host builds everything else: the transport interface (``base``),
one file per transport (``ssh``), the lean worker's bundle (``bundle``), the launcher that runs a case's process on the
device (``launcher``), setting a device up and checking it (``setup``), and a stand-in device on this machine for
the tests and for trying it out (``standin``)."""
