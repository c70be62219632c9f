"""Simulated ``apt-get`` of an Ubuntu 8.04 node (installed as /usr/bin/apt-get in every node).

It installs packages of the catalogue (packages.py) into the node's own filesystem and records
them in the node's /var/lib/dpkg so that the REAL dpkg-query / dpkg -l / dpkg -L on the node see
them. No network traffic: downloads are printed, never made. Output mirrors apt 0.7.9 (hardy).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sys

import dpkgdb
import packages

SITE = "http://archive.ubuntu.com"  # item descriptions name the site only (URI::SiteOnly)
EXIT_ERROR = 100

USAGE = """\
apt 0.7.9ubuntu17 for amd64 compiled on Jan  1 2008 00:00:00
Usage: apt-get [options] command
       apt-get [options] install|remove pkg1 [pkg2 ...]

Commands:
   update - Retrieve new lists of packages
   upgrade - Perform an upgrade
   install - Install new packages (pkg is libc6 not libc6.deb)
   remove - Remove packages
   purge - Remove and purge packages
   clean - Erase downloaded archive files
"""


class AptError(Exception):
    pass


class Options:
    def __init__(self):
        self.assume_yes = False
        self.quiet = 0
        self.simulate = False
        self.purge = False


def parse(argv):
    opts = Options()
    words = []
    for arg in argv:
        if arg in ("-y", "--yes", "--assume-yes", "--force-yes"):
            opts.assume_yes = opts.assume_yes or arg != "--force-yes"
        elif arg in ("-q", "--quiet"):
            opts.quiet += 1
        elif arg == "-qq":
            opts.quiet += 2
        elif arg in ("-s", "--simulate", "--dry-run", "--just-print", "--no-act"):
            opts.simulate = True
        elif arg == "--purge":
            opts.purge = True
        elif arg.startswith("-o") or arg in ("--no-install-recommends", "--install-recommends",
                                             "-f", "--fix-broken", "--reinstall", "-m"):
            continue
        elif arg.startswith("-") and len(arg) > 1 and not arg.startswith("--"):
            for letter in arg[1:]:
                if letter == "y":
                    opts.assume_yes = True
                elif letter == "q":
                    opts.quiet += 1
                elif letter == "s":
                    opts.simulate = True
                elif letter not in "fm":
                    raise AptError(f"Command line option '{letter}' [from {arg}] is not known.")
        elif arg.startswith("--"):
            raise AptError(f"Command line option {arg} is not understood")
        else:
            words.append(arg)
    return opts, words


def deb_name(pkg):
    return f"{pkg.name}_{pkg.version.replace(':', '%3a')}_{packages.ARCH}.deb"


class Apt:
    def __init__(self, root="/", out=None, stdin=None, run_scripts=True, check_root=None):
        self.root = root
        self.out = out or sys.stdout
        self.stdin = stdin or sys.stdin
        self.db = dpkgdb.Database(root)
        self.ctx = packages.Context(root=root, run_scripts=run_scripts, out=self.out)
        self.check_root = (root == "/") if check_root is None else check_root
        self.lock_fh = None

    # ------------------------------------------------------------------ helpers
    def say(self, text="", end="\n"):
        self.out.write(text + end)
        self.out.flush()

    def lock(self):
        path = self.ctx.path("/var/lib/dpkg/lock")
        if self.check_root and os.geteuid() != 0:
            raise AptError(f"Could not open lock file {'/var/lib/dpkg/lock'} - open "
                           "(13: Permission denied)\nE: Unable to lock the administration "
                           "directory (/var/lib/dpkg/), are you root?")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.lock_fh = open(path, "a")  # noqa: SIM115 - held for the whole run
        try:
            fcntl.lockf(self.lock_fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise AptError("Could not get lock /var/lib/dpkg/lock - open (11: Resource "
                           "temporarily unavailable)\nE: Unable to lock the administration "
                           "directory (/var/lib/dpkg/), is another process using it?") from exc

    def reading(self, opts):
        # OpTextProgress: quiet 1 prints each operation once as "Op...", a terminal the spinner
        if opts.quiet == 1:
            for op in ("Reading package lists", "Building dependency tree",
                       "Reading state information"):
                self.say(op + "...")
        elif opts.quiet < 1:
            self.say("Reading package lists... Done")
            self.say("Building dependency tree       ")
            self.say("Reading state information... Done")

    def known(self, name):
        return name in packages.CATALOGUE or self.db.get(name) is not None

    def locate(self, names):
        for name in names:
            if not self.known(name):
                raise AptError(f"Couldn't find package {name}")  # 0.7.9 cmdline/apt-get.cc

    def listing(self, title, names, marks=None):
        self.say(title)
        marks = marks or {}
        line = "  " + " ".join(n + marks.get(n, "") for n in names)
        self.say(line)

    def summary(self, new, remove):
        self.say(f"0 upgraded, {new} newly installed, {remove} to remove and 0 not upgraded.")

    def confirm(self, opts):
        if opts.assume_yes:
            return True
        self.say("Do you want to continue [Y/n]? ", end="")
        answer = self.stdin.readline()
        if not answer or answer.strip().lower() not in ("", "y", "yes"):
            self.say("Abort.")
            return False
        return True

    # ------------------------------------------------------------------ commands
    def update(self, opts):
        if opts.quiet < 2:
            for line in (f"Hit {SITE} hardy Release.gpg",
                         f"Hit {SITE} hardy/main Translation-en_US",
                         f"Hit {SITE} hardy-updates Release.gpg",
                         f"Hit {SITE} hardy Release",
                         f"Hit {SITE} hardy-updates Release",
                         f"Hit {SITE} hardy/main Packages",
                         f"Hit {SITE} hardy-updates/main Packages"):
                self.say(line)
            self.say("Reading package lists..." + ("" if opts.quiet else " Done"))
        return 0

    def plan_install(self, names):
        """Catalogue packages to install, dependencies first."""
        order = []

        def visit(name, stack):
            if name in order or name in stack:
                return
            if self.db.is_installed(name) or name not in packages.CATALOGUE:
                return
            for dep in packages.CATALOGUE[name].depends:
                visit(dep, (*stack, name))
            order.append(name)

        for name in names:
            visit(name, ())
        return order

    def install(self, opts, names):
        self.reading(opts)
        self.locate(names)
        for name in names:
            if self.db.is_installed(name):
                self.say(f"{name} is already the newest version.")
        plan = self.plan_install(names)
        extra = [n for n in plan if n not in names]
        if extra:
            self.listing("The following extra packages will be installed:", extra)
        if plan:
            self.listing("The following NEW packages will be installed:", plan)
        self.summary(len(plan), 0)
        if not plan:
            return 0
        pkgs = [packages.CATALOGUE[n] for n in plan]
        if opts.simulate:
            for pkg in pkgs:
                self.say(f"Inst {pkg.name} ({pkg.version} Ubuntu:8.04/hardy)")
            for pkg in pkgs:
                self.say(f"Conf {pkg.name} ({pkg.version} Ubuntu:8.04/hardy)")
            return 0
        download = sum(p.download_size for p in pkgs)
        self.say(f"Need to get {download}kB of archives.")
        self.say(f"After this operation, {sum(p.installed_size for p in pkgs)}kB of additional "
                 "disk space will be used.")
        if extra and not self.confirm(opts):
            return 1
        if opts.quiet <= 1:  # AcqTextStatus is silent only above quiet 1
            for i, pkg in enumerate(pkgs, 1):
                self.say(f"Get:{i} {SITE} hardy/main {pkg.name} {pkg.version} "
                         f"[{pkg.download_size}kB]")
            self.say(f"Fetched {download}kB in 0s ({download * 7}kB/s)")
        for index, pkg in enumerate(pkgs):
            self.say(f"Selecting previously deselected package {pkg.name}.")
            if index == 0:  # one dpkg --unpack run reads its database once
                self.say(f"(Reading database ... {self.db.file_count() + 17000} files and "
                         "directories currently installed.)")
            self.say(f"Unpacking {pkg.name} (from .../{deb_name(pkg)}) ...")
            self.unpack(pkg)
        for pkg in pkgs:
            self.say(f"Setting up {pkg.name} ({pkg.version}) ...")
            for action in pkg.postinst:
                action.run(self.ctx)
        self.say()
        return 0

    def unpack(self, pkg):
        listed = ["/."]
        md5s = []
        for directory in pkg.dirs:
            os.makedirs(self.ctx.path(directory), exist_ok=True)
        for path, spec in pkg.files.items():
            full = self.ctx.path(path)
            parent = os.path.dirname(path)
            while parent not in ("/", ""):
                if parent not in listed:
                    listed.append(parent)
                parent = os.path.dirname(parent)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            listed.append(path)
            if isinstance(spec, packages.Symlink):
                if os.path.lexists(full):
                    os.unlink(full)
                os.symlink(spec.target, full)
            elif isinstance(spec, packages.HostCopy):
                shutil.copy2(spec.source, full)
                os.chmod(full, spec.mode)
            else:
                text = spec.text(self.ctx)
                if spec.conffile:
                    md5s.append((path, dpkgdb.md5_of(text)))
                    if os.path.exists(full):
                        continue  # dpkg keeps the admin's copy of a conffile
                with open(full, "w", encoding="utf-8") as fh:
                    fh.write(text)
                os.chmod(full, spec.mode)
        listed.extend(d for d in pkg.dirs if d not in listed)
        self.db.write_list(pkg.name, sorted(set(listed), key=listed.index))
        self.db.put(packages.installed_stanza(pkg, md5s))

    def remove(self, opts, names, purge):
        self.reading(opts)
        self.locate(names)
        todo = []
        for name in names:
            state = self.db.status_of(name)
            if state == "installed" or (purge and state == "config-files"):
                todo.append(name)
            else:
                self.say(f"Package {name} is not installed, so not removed")
        if todo:
            self.listing("The following packages will be REMOVED:", todo,
                         dict.fromkeys(todo, "*") if purge else None)
        self.summary(0, len(todo))
        if not todo:
            return 0
        if opts.simulate:
            for name in todo:
                self.say(f"{'Purg' if purge else 'Remv'} {name}")
            return 0
        freed = sum(packages.CATALOGUE[n].installed_size for n in todo
                    if n in packages.CATALOGUE)
        self.say(f"After this operation, {freed}kB disk space will be freed.")
        if not self.confirm(opts):
            return 1
        self.say(f"(Reading database ... {self.db.file_count() + 17000} files and directories "
                 "currently installed.)")
        for name in todo:
            pkg = packages.CATALOGUE.get(name)
            if self.db.is_installed(name):
                self.say(f"Removing {name} ...")
                self.drop_files(name, pkg, conffiles=False)
            if purge:
                self.say(f"Purging configuration files for {name} ...")
                self.drop_files(name, pkg, conffiles=True)
        self.say()
        return 0

    def drop_files(self, name, pkg, conffiles):
        stanza = self.db.get(name)
        if pkg is None:  # a base package: forget it, leave its files
            if stanza is not None and conffiles:
                self.db.drop(name)
            elif stanza is not None:
                stanza["Status"] = "deinstall ok config-files"
                self.db.put(stanza)
            return
        if not conffiles:
            for action in pkg.prerm:
                action.run(self.ctx)
            for path, spec in pkg.files.items():
                if isinstance(spec, packages.File) and spec.conffile:
                    continue
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.ctx.path(path))
            if stanza is not None:
                stanza["Status"] = "deinstall ok config-files"
                self.db.put(stanza)
            self.db.write_list(name, pkg.conffiles())
            return
        for path in pkg.conffiles():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.ctx.path(path))
        for directory in sorted(pkg.dirs, reverse=True):
            with contextlib.suppress(OSError):
                os.rmdir(self.ctx.path(directory))
        for action in pkg.postrm_purge:
            action.run(self.ctx)
        self.db.drop(name)

    def run(self, argv):
        opts, words = parse(argv)
        if opts.quiet < 1 and not self.out.isatty():  # apt-get.cc: stdout not a tty -> quiet 1
            opts.quiet = 1
        if not words:
            self.say(USAGE, end="")
            return EXIT_ERROR
        command, names = words[0], words[1:]
        if command == "update":
            self.lock()
            return self.update(opts)
        if command in ("install", "remove", "purge", "autoremove"):
            if command != "autoremove" and not names:
                if command == "install":
                    self.reading(opts)
                self.summary(0, 0)
                return 0
            self.lock()
            if command == "install":
                return self.install(opts, names)
            return self.remove(opts, names, purge=command == "purge" or opts.purge)
        if command in ("upgrade", "dist-upgrade"):
            self.reading(opts)
            self.summary(0, 0)
            return 0
        if command in ("clean", "autoclean", "check"):
            return 0
        raise AptError(f"Invalid operation {command}")


def main(argv=None, **kwargs):
    apt = Apt(**kwargs)
    try:
        return apt.run(sys.argv[1:] if argv is None else argv)
    except AptError as exc:
        apt.out.flush()
        sys.stderr.write(f"E: {exc}\n")
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
