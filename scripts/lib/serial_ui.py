#!/usr/bin/env python3
"""Drives the stick's console UI over QEMU's serial port (a UNIX socket).

A tiny VT emulator keeps an 80x25 screen from what the guest draws (cursor moves, clears,
text; colours ignored), so steps can wait for text on the *screen*, not in a byte stream.

    serial_ui.py SOCKET SCRIPT.json   (steps: {"wait": "text", "timeout": s} |
                                               {"send": "keys"} | {"absent": "text"} |
                                               {"absent_re": "regex, per line"} |
                                               {"poweroff": s})
Like a real terminal, it answers a cursor position request (CSI 6n), which the UI uses to
learn the size of a serial terminal.
Key names in "send": <up> <down> <left> <right> <enter> <esc> <bs>, anything else is typed.
"poweroff" fails unless the guest powers off (QEMU closes the socket) within s seconds; after
the last step the driver waits up to 120 s for that either way.
Exits 0 when every step passed, 1 otherwise (printing the screen). If the reader of the
serial stream dies (a bug here), the driver says so and fails: a reader that stops reading
would stall the guest's console and look like a hang of PID 1.
"""
import codecs, json, re, socket, sys, threading, time, traceback

W, H = 80, 25
# Sent after every key: Ctrl-G, which the UI ignores (a control character) and so does PID 1's
# crash screen. Under TCG on a loaded host the emulated 16550's character-timeout interrupt
# sometimes never comes, and a key below the FIFO's trigger level then waits in the UART until
# the next byte arrives (seen here: a final Enter waited 30 s, until an idle key came, then the
# guest powered off 0.3 s later). A second byte re-arms that timeout. Setting the trigger to
# one byte in the guest instead splits escape sequences: the UI reads a lone ESC.
IDLE = b"\x07"
KEYS = {"<up>": "\x1b[A", "<down>": "\x1b[B", "<right>": "\x1b[C", "<left>": "\x1b[D",
        "<enter>": "\r", "<esc>": "\x1b", "<bs>": "\x7f"}


class Screen:
    def __init__(self):
        self.rows = [[" "] * W for _ in range(H)]
        self.x = self.y = 0
        self.state = "text"
        self.seq = ""
        self.lock = threading.Lock()
        self.dec = codecs.getincrementaldecoder("utf-8")("replace")
        self.reply = lambda data: None

    def text(self):
        with self.lock:
            return "\n".join("".join(r).rstrip() for r in self.rows)

    def scroll(self):
        self.rows.pop(0)
        self.rows.append([" "] * W)

    def put(self, c):
        if self.x >= W:
            self.x = 0
            self.newline()
        self.rows[self.y][self.x] = c
        self.x += 1

    def newline(self):
        if self.y == H - 1:
            self.scroll()
        else:
            self.y += 1

    def csi(self, s):
        final, params = s[-1], s[:-1]
        if params.startswith("?"):
            return
        nums = [int(p) if p.isdigit() else 0 for p in params.split(";")] if params else []
        n = lambda i, d=1: (nums[i] if len(nums) > i and nums[i] else d)
        if final == "n" and params == "6":
            self.reply(f"\x1b[{self.y + 1};{self.x + 1}R".encode())
        elif final in "Hf":
            self.y, self.x = min(n(0) - 1, H - 1), min(n(1) - 1, W - 1)
        elif final == "J":
            mode = nums[0] if nums else 0
            if mode in (2, 3):
                self.rows = [[" "] * W for _ in range(H)]
            elif mode == 0:
                self.rows[self.y][self.x:] = [" "] * (W - self.x)
                for r in range(self.y + 1, H):
                    self.rows[r] = [" "] * W
        elif final == "K":
            mode = nums[0] if nums else 0
            if mode == 0:
                self.rows[self.y][self.x:] = [" "] * (W - self.x)
            elif mode == 2:
                self.rows[self.y] = [" "] * W
        elif final == "A":
            self.y = max(0, self.y - n(0))
        elif final == "B":
            self.y = min(H - 1, self.y + n(0))
        elif final == "C":
            self.x = min(W - 1, self.x + n(0))
        elif final == "D":
            self.x = max(0, self.x - n(0))
        elif final == "G":
            self.x = min(W - 1, n(0) - 1)
        elif final == "d":
            self.y = min(H - 1, n(0) - 1)

    def feed(self, data):
        with self.lock:
            for c in self.dec.decode(data):
                if self.state == "text":
                    if c == "\x1b":
                        self.state = "esc"
                    elif c == "\r":
                        self.x = 0
                    elif c == "\n":
                        self.newline()
                    elif c == "\b":
                        self.x = max(0, self.x - 1)
                    elif c >= " ":
                        self.put(c)
                elif self.state == "esc":
                    if c == "[":
                        self.state, self.seq = "csi", ""
                    elif c == "]":
                        self.state = "osc"
                    elif c in "()":
                        self.state = "charset"
                    else:
                        self.state = "text"
                elif self.state == "csi":
                    self.seq += c
                    if "@" <= c <= "~":
                        self.csi(self.seq)
                        self.state = "text"
                elif self.state == "osc":
                    if c in "\x07\x9c":
                        self.state = "text"
                elif self.state == "charset":
                    self.state = "text"


def main():
    sock_path, script = sys.argv[1], json.load(open(sys.argv[2]))
    s = None
    for _ in range(300):
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(sock_path)
            break
        except OSError:
            s = None
            time.sleep(0.2)
    if s is None:
        print("serial_ui: cannot connect to", sock_path)
        return 1
    scr = Screen()
    scr.reply = s.sendall
    done = threading.Event()
    died = []

    def reader():
        try:
            while True:
                try:
                    d = s.recv(4096)
                except OSError:
                    break
                if not d:
                    break
                scr.feed(d)
        except Exception:
            died.append(traceback.format_exc())
        finally:
            done.set()

    threading.Thread(target=reader, daemon=True).start()
    for i, step in enumerate(script):
        if "wait" in step:
            deadline = time.time() + step.get("timeout", 120)
            while step["wait"] not in scr.text():
                if time.time() > deadline or (done.is_set() and step["wait"] not in scr.text()):
                    print(f"serial_ui: step {i}: timed out waiting for {step['wait']!r}; screen:")
                    print(scr.text())
                    return 1
                time.sleep(0.2)
            print(f"serial_ui: saw {step['wait']!r}")
        elif "absent" in step:
            if step["absent"] in scr.text():
                print(f"serial_ui: step {i}: {step['absent']!r} must not be on screen:")
                print(scr.text())
                return 1
        elif "absent_re" in step:
            bad = [l for l in scr.text().splitlines() if re.search(step["absent_re"], l)]
            if bad:
                print(f"serial_ui: step {i}: a line matching {step['absent_re']!r} is on screen: {bad[0]!r}")
                print(scr.text())
                return 1
        elif "send" in step:
            for tok in re.findall(r"<[a-z]+>|.", step["send"], re.S):
                s.sendall(KEYS.get(tok, tok).encode())
                time.sleep(0.2)
                s.sendall(IDLE)
                time.sleep(0.2)
            time.sleep(step.get("pause", 0.8))
        elif "poweroff" in step:
            t = time.time()
            nudge = step.get("nudge")
            if nudge and not done.wait(timeout=nudge[0]):
                print(f"serial_ui: no power-off {nudge[0]} s after the last key; sending {nudge[1]!r}")
                s.sendall(KEYS.get(nudge[1], nudge[1]).encode())
            if not done.wait(timeout=step["poweroff"]):
                print(f"serial_ui: step {i}: the guest did not power off within {step['poweroff']} s; screen:")
                print(scr.text())
                return 1
            print(f"serial_ui: the guest powered off after {time.time() - t:.1f} s")
        elif "dump" in step:
            print(scr.text())
        if died:
            print(f"serial_ui: step {i}: the serial reader died:\n{died[0]}")
            return 1
    # Wait for the guest to power off (QEMU closes the socket).
    done.wait(timeout=120)
    return 0


if __name__ == "__main__":
    sys.exit(main())
