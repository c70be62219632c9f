"""``python -m xenlab up|down|status|off|on|cut|restore [--name N] [--port-base P]``,
``python -m xenlab fail-disk|repair-disk NODE VG/LV``, ``python -m xenlab drbd NODE``.

For working on the lab itself; users run ``runbook lab ...``.
"""

from __future__ import annotations

import argparse
import sys

from xenlab import manager


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xenlab")
    parser.add_argument("action", choices=["up", "down", "status", "off", "on", "cut", "restore",
                                           "fail-disk", "repair-disk", "drbd"])
    parser.add_argument("node", nargs="?", help="ha1 or ha2 (off/on, fail-disk, drbd)")
    parser.add_argument("lv", nargs="?", help="VG/LV (fail-disk, repair-disk)")
    parser.add_argument("--name", default=manager.DEFAULT_LAB)
    parser.add_argument("--port-base", type=int)
    args = parser.parse_args(argv)
    try:
        if args.action == "up":
            info = manager.up(args.name, args.port_base)
            print(f"lab {info.name} up: " + ", ".join(f"{n} 127.0.0.1:{p}"
                                                      for n, p in info.nodes.items()))
            print(f"inventory: {info.inventory_dir}")
        elif args.action == "down":
            print("\n".join(manager.down(args.name)) or f"lab {args.name}: nothing to remove")
        elif args.action == "status":
            st = manager.status(args.name)
            print(st.render())
            return 0 if st.up else 1
        elif args.action in ("off", "on"):
            if not args.node:
                parser.error("off/on need a node (ha1 or ha2)")
            if args.action == "off":
                print("\n".join(manager.power_off(args.name, args.node)))
            else:
                manager.power_on(args.name, args.node)
        elif args.action in ("fail-disk", "repair-disk"):
            if not args.node or not args.lv or "/" not in args.lv:
                parser.error(f"{args.action} needs a node and VG/LV")
            vg, lv = args.lv.split("/", 1)
            inject = manager.fail_disk if args.action == "fail-disk" else manager.repair_disk
            inject(args.name, args.node, vg, lv)
        elif args.action == "drbd":
            if not args.node:
                parser.error("drbd needs a node (ha1 or ha2)")
            print(manager.proc_drbd(args.name, args.node) or "drbd not loaded\n", end="")
        elif args.action == "cut":
            manager.cut_link(args.name)
        else:
            manager.restore_link(args.name)
    except manager.LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
