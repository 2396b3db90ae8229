#!/usr/bin/env python3
"""Drives the stick's console UI on the VGA text console through the QEMU monitor (a UNIX
socket): reads the screen from VGA text memory (`xp` at 0xb8000), types with `sendkey`
(key positions: the guest's keymap decides the characters), and saves `screendump` PNGs.

    vga_ui.py MONITOR_SOCKET OUTDIR
"""
import os, re, socket, sys, time

B8000 = 0xB8000
SPAN = 0x8000  # the whole text window: vgacon may scroll its origin within it


class Monitor:
    def __init__(self, path):
        for _ in range(300):
            try:
                self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.s.connect(path)
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise SystemExit("vga_ui: no monitor socket")
        self.s.settimeout(30)
        self.read_prompt()

    def read_prompt(self):
        buf = b""
        while not buf.endswith(b"(qemu) "):
            d = self.s.recv(65536)
            if not d:
                raise SystemExit("vga_ui: monitor closed (guest powered off?)")
            buf += d
        return buf.decode("latin-1")

    def cmd(self, c):
        self.s.sendall((c + "\n").encode())
        return self.read_prompt()

    def screen(self):
        out = self.cmd(f"xp /{SPAN // 2}xh {B8000:#x}")
        cells = []
        for line in out.splitlines():
            m = re.match(r"\s*[0-9a-f]+:\s+(.*)", line)
            if m:
                cells += [int(w, 16) for w in m.group(1).split()]
        return "".join(chr(c & 0xFF) if 32 <= (c & 0xFF) < 127 else " " for c in cells)

    def wait(self, text, timeout=300):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in self.screen():
                print("vga_ui: saw", repr(text))
                return
            time.sleep(1)
        raise SystemExit(f"vga_ui: timed out waiting for {text!r}")

    def keys(self, *names):
        for k in names:
            self.cmd(f"sendkey {k}")
            time.sleep(0.5)
        time.sleep(1)

    def shot(self, outdir, name):
        path = os.path.abspath(os.path.join(outdir, name + ".png"))
        self.cmd(f"screendump {path} -f png")
        print("vga_ui: wrote", path)


def typed(text):
    """sendkey names for letters and spaces (same positions on AZERTY and QWERTY)."""
    out = []
    for c in text:
        if c == " ":
            out.append("spc")
        elif c.isupper():
            out.append("shift-" + c.lower())
        else:
            out.append(c)
    return out


def main():
    mon, outdir = Monitor(sys.argv[1]), sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    # Welcome (the VGA font has no accents in our ASCII reading: match plain words).
    mon.wait("Bienvenue")
    mon.wait("version", 600)
    time.sleep(2)
    mon.shot(outdir, "welcome-fr")
    mon.keys("right")
    mon.wait("Welcome")
    mon.shot(outdir, "welcome-en")
    mon.keys("left")
    mon.wait("Bienvenue")
    mon.keys("ret")
    mon.wait("fat32", 120)
    mon.shot(outdir, "machine")
    mon.keys("ret")
    mon.wait("Lancer l'analyse")
    mon.keys("up", *typed("POSTE URGENCES"))
    mon.shot(outdir, "options")
    mon.keys("ret", "ret")
    mon.wait("MENACE D", 600)
    time.sleep(1)
    mon.shot(outdir, "verdict-infected")
    mon.keys("d")
    mon.wait("sha256")
    mon.shot(outdir, "details")
    mon.keys("esc", "ret")
    mon.wait("/VIGIE/scans/", 120)
    mon.shot(outdir, "end")
    mon.keys("ret")
    return 0


if __name__ == "__main__":
    sys.exit(main())
