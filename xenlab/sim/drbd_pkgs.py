"""Package family: drbd8-utils 8.3.7 (DRBD's userland) for the lab nodes.

``apt-get install drbd8-utils`` makes /sbin/drbdadm, /sbin/drbdsetup and /etc/init.d/drbd
appear on that node only; they are wrappers around sim/drbd_cli.py, which checks drbd.conf with
the host's real drbdadm-84 and drives the node's simulated DRBD module (sim/drbd_module.py).
update-rc.d drbd defaults 70 8, as the Ubuntu package does: the module loads and the resources
come up at boot.
"""

from __future__ import annotations

from packages import File, Package, RcLinks, RemoveRcLinks, StopService

SIM = "/usr/lib/runbook-lab/sim"


def _cli(tool: str) -> str:
    return f'#!/bin/sh\nexec /usr/bin/python3 {SIM}/drbd_cli.py {tool} "$@"\n'


DRBD_CONF = """\
#
# please have a a look at the example configuration file in
# /usr/share/doc/drbd8-utils/drbd.conf
#
"""

INIT = """\
#!/bin/sh
### BEGIN INIT INFO
# Provides: drbd
# Required-Start: $local_fs $network $syslog
# Required-Stop:  $local_fs $network $syslog
# Should-Start:   sshd multipathd
# Should-Stop:    sshd multipathd
# Default-Start:  2 3 4 5
# Default-Stop:   0 1 6
# Short-Description:    Control drbd resources.
### END INIT INFO
exec /usr/bin/python3 /usr/lib/runbook-lab/sim/drbd_cli.py init "$@"
"""

PACKAGES = {
    "drbd8-utils": Package(
        name="drbd8-utils",
        version="2:8.3.7-1ubuntu2",
        source="drbd8",
        section="admin",
        description="RAID 1 over tcp/ip for Linux utilities\n"
        " Drbd is a block device which is designed to build high availability\n"
        " clusters by providing a virtual shared device which keeps disks in\n"
        " nodes synchronised using TCP/IP. This simulates RAID 1 but avoiding\n"
        " the use of uncommon hardware (shared SCSI buses or Fibre Channel).\n"
        " It is currently limited to fail-over HA clusters.\n"
        " .\n"
        " This package contains the programs that will control the drbd kernel\n"
        " module provided in the Linux kernel.",
        installed_size=864,
        download_size=233,
        depends=("libc6",),
        files={
            "/etc/drbd.conf": File(DRBD_CONF, conffile=True),
            "/etc/init.d/drbd": File(INIT, mode=0o755, conffile=True),
            "/sbin/drbdadm": File(_cli("drbdadm"), mode=0o755),
            "/sbin/drbdsetup": File(_cli("drbdsetup"), mode=0o755),
            "/usr/share/doc/drbd8-utils/copyright": File(
                "drbd is Copyright (C) 2001-2008 LINBIT Information Technologies GmbH "
                "(GPL-2).\n"),
        },
        dirs=("/usr/share/doc/drbd8-utils", "/var/lib/drbd"),
        postinst=(RcLinks("drbd", 70, 8),),
        prerm=(StopService("drbd"),),
        postrm_purge=(RemoveRcLinks("drbd"),),
    ),
}
