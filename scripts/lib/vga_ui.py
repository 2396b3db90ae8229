#!/usr/bin/env python3
"""Drives the stick's console UI on the VGA text console through the QEMU monitor (a UNIX
socket): reads the screen from VGA text memory (`xp` at 0xb8000), types with `sendkey`
(key positions: the guest's keymap decides the characters), and saves `screendump` PNGs.

    vga_ui.py MONITOR_SOCKET OUTDIR [SCENARIO [SERIAL_LOG]]

Scenarios (one boot each, see scripts/screenshots): `infected` (default: welcome FR/EN,
machine, options, progress, red verdict, details, end), `clean` (green verdict), `incomplete`
(amber verdict), `quick` (the options screen with the quick scan chosen, then its blue
verdict), `crash` (the crash screen, with vigie.test.crash=scan on the command line) and
`uefi` (OVMF: no VGA text memory, so the check is from outside: PID 1's serial line "console UI
on", then a screendump that is a framebuffer, not the 720x400 text mode, and not blank).
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

    def quit(self):
        """Ends QEMU (the screenshot is taken; no need to walk to the power-off)."""
        self.s.sendall(b"quit\n")
        time.sleep(1)

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

    def ppm(self, path):
        """(width, height, distinct colours, share of pixels unlike the most common one)."""
        path = os.path.abspath(path)
        self.cmd(f"screendump {path}")
        data = open(path, "rb").read()
        # P6 header: magic, width, height, maxval, each separated by whitespace.
        fields, pos = [], 0
        while len(fields) < 4:
            m = re.compile(rb"\s*(\S+)").match(data, pos)
            fields.append(m.group(1))
            pos = m.end()
        w, h = int(fields[1]), int(fields[2])
        px = data[pos + 1:pos + 1 + w * h * 3]
        counts = {}
        for i in range(0, len(px), 3 * 7):  # every 7th pixel is plenty
            k = px[i:i + 3]
            counts[k] = counts.get(k, 0) + 1
        total = sum(counts.values()) or 1
        return w, h, len(counts), 1 - max(counts.values(), default=0) / total


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


def start_scan(mon, outdir=None, quick=False):
    """Welcome -> machine -> options (an asset tag typed; with `quick`, the quick scan chosen
    on the options screen's first row and the screen shot) -> scan started."""
    mon.wait("Bienvenue")
    mon.wait("version", 600)
    time.sleep(2)
    mon.keys("ret")
    mon.wait("Cette machine", 120)
    time.sleep(2)
    mon.keys("ret")
    mon.wait("Lancer l'analyse")
    if quick:
        # From the Start row: up to the kind row (kind, mode, asset tag, start), switch it.
        mon.keys("up", "up", "up", "right", "down", "down", *typed("POSTE URGENCES"))
        time.sleep(1)
        mon.shot(outdir, "options-quick")
    else:
        mon.keys("up", *typed("POSTE URGENCES"))
    mon.keys("ret", "ret")


def infected(mon, outdir):
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
    # Mid-scan: the host disk holds enough files that the progress screen lasts.
    mon.wait("Analyse en cours", 120)
    time.sleep(1)
    mon.shot(outdir, "progress")
    # A release build scans fast: the shot is only the progress screen if it still is now.
    if "Analyse en cours" not in mon.screen():
        raise SystemExit("vga_ui: the scan ended before the progress shot (host disk too small)")
    mon.wait("MENACE D", 900)
    time.sleep(1)
    mon.shot(outdir, "verdict-infected")
    mon.keys("d")
    mon.wait("sha256")
    mon.shot(outdir, "details")
    mon.keys("esc", "ret")
    mon.wait("/VIGIE/scans/", 120)
    mon.shot(outdir, "end")
    mon.keys("ret")


def quick(mon, outdir):
    """The quick scan (issue 14): chosen on the options screen, its blue verdict."""
    start_scan(mon, outdir, quick=True)
    mon.wait("analyse rapide", 900)
    time.sleep(2)
    mon.shot(outdir, "verdict-quick")
    mon.quit()


def verdict(mon, outdir, text, name):
    start_scan(mon)
    mon.wait(text, 900)
    time.sleep(2)
    mon.shot(outdir, name)
    mon.quit()


def crash(mon, outdir):
    start_scan(mon)
    mon.wait("BRUTALEMENT", 900)
    mon.wait("SIGABRT", 60)
    time.sleep(2)
    mon.shot(outdir, "crash")
    mon.quit()


def uefi(mon, outdir, serial_log):
    deadline = time.time() + 900
    while "console UI on" not in open(serial_log, errors="replace").read():
        if time.time() > deadline:
            raise SystemExit("vga_ui: PID 1 never said `console UI on` on the serial port")
        time.sleep(2)
    print("vga_ui: PID 1 started the console UI")
    tmp = os.path.join(os.path.dirname(os.path.abspath(serial_log)), "screen.ppm")
    for _ in range(120):
        time.sleep(2)
        w, h, colours, busy = mon.ppm(tmp)
        # Text mode dumps are 720x400; the UI's screen has a coloured bar and text.
        if (w, h) != (720, 400) and colours >= 3 and busy > 0.02:
            break
    else:
        raise SystemExit(f"vga_ui: no UI on the framebuffer (last dump {w}x{h}, {colours} colours, {busy:.3f} non-background)")
    print(f"vga_ui: framebuffer {w}x{h}, {colours} colours, {busy:.1%} of pixels drawn")
    time.sleep(8)  # the rules' version line comes a little later
    mon.shot(outdir, "uefi-welcome")
    mon.quit()


def main():
    mon, outdir = Monitor(sys.argv[1]), sys.argv[2]
    scenario = sys.argv[3] if len(sys.argv) > 3 else "infected"
    os.makedirs(outdir, exist_ok=True)
    if scenario == "infected":
        infected(mon, outdir)
    elif scenario == "clean":
        verdict(mon, outdir, "AUCUNE MENACE", "verdict-clean")
    elif scenario == "incomplete":
        verdict(mon, outdir, "ANALYSE INCOMPLETE", "verdict-incomplete")
    elif scenario == "quick":
        quick(mon, outdir)
    elif scenario == "crash":
        crash(mon, outdir)
    elif scenario == "uefi":
        uefi(mon, outdir, sys.argv[4])
    else:
        raise SystemExit(f"vga_ui: unknown scenario {scenario}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
