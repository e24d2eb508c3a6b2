#!/usr/bin/env python3
"""Independent verifier for Rampart audit-log exports (export format version 1).

Written from docs/design/0002-audit-log-format.md and the public specs it cites
(RFC 9162, C2SP signed-note, C2SP tlog-checkpoint) only, without reading the
reference implementation.

Usage: python3 verify_export.py EXPORT.jsonl VERIFIER_KEY
VERIFIER_KEY is a file holding `<name>+<hex id>+<base64 key>` (GET /v1/audit/public-key).
Standard library only; the Ed25519 signature is checked when `cryptography` is installed.
"""
import base64, binascii, hashlib, json, re, struct, sys, unicodedata

try:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
except ImportError:  # signature check is skipped, everything else still runs
    Ed25519PublicKey = None

class Fail(Exception):
    def __init__(self, where, what):
        super().__init__(f"{where}: {what}")

sha256 = lambda b: hashlib.sha256(b).digest()
leaf_hash = lambda leaf: sha256(b"\x00" + leaf)
node_hash = lambda l, r: sha256(b"\x01" + l + r)

def b64(s, where, what, size=None):
    """Strict RFC 4648 §4 base64: right alphabet, padding, zero unused bits."""
    try:
        raw = base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise Fail(where, f"{what}: invalid base64")
    if base64.b64encode(raw).decode() != s:
        raise Fail(where, f"{what}: non-canonical base64")
    if size is not None and len(raw) != size:
        raise Fail(where, f"{what}: {len(raw)} bytes, expected {size}")
    return raw

# ---- §1 compact ranges ------------------------------------------------------
def compact_levels(a, b):
    """Levels of the nodes of the compact range [a, b), left to right."""
    levels, p = [], a
    while p < b:  # largest L with p mod 2^L = 0 (any L when p = 0) and p + 2^L <= b
        L = (p & -p).bit_length() - 1 if p else b.bit_length()
        while p + (1 << L) > b:
            L -= 1
        levels.append(L)
        p += 1 << L
    return levels

class Range:
    """Compact range [0, size) as a stack of (level, hash); appending merges siblings."""
    def __init__(self):
        self.stack = []

    def push(self, level, h):
        self.stack.append((level, h))
        while len(self.stack) >= 2 and self.stack[-2][0] == self.stack[-1][0]:
            (lv, left), (_, right) = self.stack[-2], self.stack[-1]
            self.stack[-2:] = [(lv + 1, node_hash(left, right))]

    def root(self):
        if not self.stack:
            return sha256(b"")
        h = self.stack[-1][1]
        for _, x in reversed(self.stack[:-1]):
            h = node_hash(x, h)
        return h

# ---- §2 signed notes and checkpoints ----------------------------------------
def valid_name(name):
    return name != "" and "+" not in name and not any(c.isspace() for c in name)

def parse_verifier(text):
    """`<name>+<8 hex key id>+<base64(0x01 || Ed25519 public key)>`, split at the first two `+`."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3 or not valid_name(parts[0]) or not re.fullmatch(r"[0-9a-f]{8}", parts[1]):
        raise Fail("verifier key", "malformed")
    name, key_id = parts[0], bytes.fromhex(parts[1])
    raw = b64(parts[2], "verifier key", "key")
    if len(raw) != 33 or raw[0] != 0x01:
        raise Fail("verifier key", "not an Ed25519 key (0x01 || 32 bytes)")
    if sha256(name.encode() + b"\n" + raw)[:4] != key_id:
        raise Fail("verifier key", "key id does not match name and key")
    return name, key_id, raw[1:]

def open_checkpoint(note, verifier):
    where, (name, key_id, pub) = "checkpoint", verifier
    controls = isinstance(note, str) and any(c != "\n" and unicodedata.category(c) == "Cc" for c in note)
    if not isinstance(note, str) or not note.endswith("\n") or controls:
        raise Fail(where, "note must end in \\n and contain no control characters")
    split = note.rfind("\n\n")
    if split < 0:
        raise Fail(where, "no blank line before signatures")
    text, sig_lines = note[: split + 1], note[split + 2 :].split("\n")[:-1]
    if not sig_lines or len(sig_lines) > 100:
        raise Fail(where, f"{len(sig_lines)} signature lines")
    verified, saw_name, signature_checked = False, False, Ed25519PublicKey is not None
    for line in sig_lines:
        m = re.fullmatch(r"\u2014 (\S+) (\S+)", line)
        sig = b64(m.group(2), where, "signature") if m and valid_name(m.group(1)) else b""
        if len(sig) < 5:
            raise Fail(where, f"malformed signature line {line!r}")
        if m.group(1) != name:
            continue
        saw_name = True
        if sig[:4] != key_id:
            continue
        if len(sig) != 68:
            raise Fail(where, "Ed25519 signature must be 4 + 64 bytes")
        if signature_checked:
            try:
                Ed25519PublicKey.from_public_bytes(pub).verify(sig[4:], text.encode())
            except Exception:
                raise Fail(where, "bad signature")
        verified = True
    if not verified:
        raise Fail(where, "signed with a different key id (wrong key)" if saw_name
                   else f"unknown signer (no signature by {name})")
    body = text.split("\n")[:-1]
    if len(body) < 3 or body[0] == "" or any(l == "" for l in body[3:]):
        raise Fail(where, "malformed checkpoint body")
    if not re.fullmatch(r"0|[1-9][0-9]*", body[1]):
        raise Fail(where, f"non-canonical tree size {body[1]!r}")
    return body[0], int(body[1]), b64(body[2], where, "root", 32), signature_checked

# ---- §3 leaf encoding -------------------------------------------------------
ACTOR_KINDS = {"user": 1, "application": 2, "staff": 3, "system": 4}
OUTCOMES = {"success": 1, "denied": 2, "failed": 3}
PERSONAL = ["actor_label", "source_ip", "user_agent", "details"]  # field codes 1..4
ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}

def canon_json(v, depth=0):
    if v is None or isinstance(v, bool):
        return {None: "null", True: "true", False: "false"}[v]
    if isinstance(v, int):
        if -(1 << 63) <= v < (1 << 64):
            return str(v)
        raise ValueError("integer outside i64/u64 range")
    if isinstance(v, str):
        return '"' + "".join(ESCAPES.get(c) or (f"\\u{ord(c):04x}" if ord(c) < 0x20 else c) for c in v) + '"'
    if depth >= 128:
        raise ValueError("nesting deeper than 128 levels")
    if isinstance(v, list):
        return "[" + ",".join(canon_json(x, depth + 1) for x in v) + "]"
    if isinstance(v, dict):
        items = sorted(v.items(), key=lambda kv: kv[0].encode())
        return "{" + ",".join(canon_json(k) + ":" + canon_json(x, depth + 1) for k, x in items) + "}"
    raise ValueError(f"unsupported JSON value {v!r}")

def parse_time(s):
    m = isinstance(s, str) and re.fullmatch(
        r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.([0-9]{6})Z", s)
    if not m:
        raise ValueError(f"bad time {s!r}")
    y, mo, d, h, mi, sec, us = map(int, m.groups())
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    mdays = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    if not (1 <= mo <= 12 and 1 <= d <= mdays[mo - 1] and h < 24 and mi < 60 and sec < 60):
        raise ValueError(f"bad time {s!r}")
    yy = y - (mo <= 2)  # days from civil (proleptic Gregorian)
    era, yoe = yy // 400, yy % 400
    doy = (153 * (mo + (-3 if mo > 2 else 9)) + 2) // 5 + d - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    return (days * 86400 + h * 3600 + mi * 60 + sec) * 1_000_000 + us

def enc_str(s, name):  # u32 length + UTF-8 (encode() raises on lone surrogates)
    if not isinstance(s, str):
        raise ValueError(f"field {name}: expected a string, got {s!r}")
    return struct.pack(">I", len(s.encode("utf-8"))) + s.encode("utf-8")

enc_opt = lambda s, name: b"\x00" if s is None else b"\x01" + enc_str(s, name)

def commitment(code, name, p, where):
    if p is None:
        return b"\x00"
    if not isinstance(p, dict):
        raise ValueError(f"personal.{name}: not null or an object")
    if set(p) == {"erased", "commitment"} and p["erased"] is True:
        return b"\x01" + b64(p["commitment"], where, f"personal.{name}.commitment", 32)
    if set(p) != {"value", "salt"}:
        raise ValueError(f"personal.{name}: keys {sorted(p)}")
    salt = b64(p["salt"], where, f"personal.{name}.salt", 16)
    value = p["value"]
    if name == "details":
        if not isinstance(value, dict):
            raise ValueError("personal.details: value is not a JSON object")
        value = canon_json(value)
    elif not isinstance(value, str):
        raise ValueError(f"personal.{name}: value is not a string")
    data = b"rampart.audit.personal.v1\x00" + bytes([code]) + salt + value.encode("utf-8")
    return b"\x01" + sha256(data)

def leaf_fields(e, org, where):
    """The leaf as a list of (field name, bytes) in leaf order."""
    if type(e["privileged"]) is not bool:
        raise ValueError("privileged: not a boolean")
    if e["actor_kind"] not in ACTOR_KINDS or e["outcome"] not in OUTCOMES:
        raise ValueError(f"unknown actor_kind/outcome {e['actor_kind']!r}/{e['outcome']!r}")
    f = [("version", b"\x01"), ("organization_id", org), ("index", struct.pack(">Q", e["index"])),
         ("time", struct.pack(">q", parse_time(e["time"]))),
         ("actor_kind", bytes([ACTOR_KINDS[e["actor_kind"]]]))]
    f += [(k, enc_opt(e[k], k)) for k in ("actor_id", "credential")]
    f += [(k, enc_str(e[k], k)) for k in ("action", "resource_type")]
    f += [("resource_id", enc_opt(e["resource_id"], "resource_id")),
          ("outcome", bytes([OUTCOMES[e["outcome"]]]))]
    f += [(k, enc_opt(e[k], k)) for k in ("reason", "request_id")]
    f += [("privileged", bytes([e["privileged"]]))]
    pers = e["personal"]
    if not isinstance(pers, dict) or set(pers) != set(PERSONAL):
        raise ValueError("personal: must have exactly keys " + ", ".join(PERSONAL))
    f += [(k, commitment(i + 1, k, pers[k], where)) for i, k in enumerate(PERSONAL)]
    return f

# ---- §4 export --------------------------------------------------------------
HEADER_KEYS = ["type", "version", "organization_id", "origin", "from_index", "to_index", "left"]
ENTRY_KEYS = ["type", "index", "time", "actor_kind", "actor_id", "credential", "action",
              "resource_type", "resource_id", "outcome", "reason", "request_id", "privileged",
              "personal", "leaf"]
TRAILER_KEYS = ["type", "right", "checkpoint"]

def load_line(raw, lineno):
    def no_dups(pairs):
        if len({k for k, _ in pairs}) != len(pairs):
            raise ValueError("duplicate key")
        return dict(pairs)
    def no_float(s):
        raise ValueError(f"non-integer number {s}")
    try:
        obj = json.loads(raw.decode("utf-8"), object_pairs_hook=no_dups,
                         parse_float=no_float, parse_constant=no_float)
    except (UnicodeDecodeError, ValueError) as err:
        raise Fail(f"line {lineno}", f"not a valid JSON line ({err})")
    if not isinstance(obj, dict) or "type" not in obj:
        raise Fail(f"line {lineno}", "not a JSON object with a type")
    return obj

def expect(obj, kind, keys, where):
    if obj.get("type") != kind:
        raise Fail(where, f"expected a {kind} line, got {obj.get('type')!r}")
    if set(obj) != set(keys):
        raise Fail(where, f"{kind} keys {sorted(obj)} differ from {sorted(keys)}")

def hashes(lst, count, where, what):
    if not isinstance(lst, list) or len(lst) != count:
        raise Fail(where, f"{what} must be a list of {count} hashes")
    return [b64(h, where, what, 32) for h in lst]

def verify(data, verifier):
    if not data.endswith(b"\n"):
        raise Fail("export", "empty or truncated (missing final newline)")
    lines = [load_line(raw, i + 1) for i, raw in enumerate(data[:-1].split(b"\n"))]
    if len(lines) < 2:
        raise Fail("export", "truncated (needs a header and a trailer)")
    trailer = lines[-1]
    expect(trailer, "trailer", TRAILER_KEYS, "trailer")
    origin, n, root, sig_checked = open_checkpoint(trailer["checkpoint"], verifier)

    head = lines[0]
    expect(head, "header", HEADER_KEYS, "header")
    a, b, org = head["from_index"], head["to_index"], head["organization_id"]
    if head["version"] != 1 or type(head["version"]) is not int:
        raise Fail("header", f"unsupported version {head['version']!r}")
    if not isinstance(org, str) or not re.fullmatch(r"[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}", org):
        raise Fail("header", "organization_id is not a canonical lowercase UUID")
    if head["origin"] != origin:
        raise Fail("header", f"origin {head['origin']!r} differs from the checkpoint's {origin!r}")
    if type(a) is not int or type(b) is not int or not 0 <= a <= b <= n:
        raise Fail("header", f"need 0 <= from_index <= to_index <= tree size {n}")
    rng = Range()
    for level, h in zip(compact_levels(0, a), hashes(head["left"], len(compact_levels(0, a)), "header", "left")):
        rng.push(level, h)

    org_bytes = bytes.fromhex(org.replace("-", ""))
    entries = lines[1:-1]
    for j, e in enumerate(entries):
        i = a + j
        if j >= b - a:
            raise Fail(f"line {j + 2}", f"expected the trailer after entry {b - 1}")
        expect(e, "entry", ENTRY_KEYS, f"entry {i}")
        if type(e["index"]) is not int or e["index"] != i:
            raise Fail(f"entry {i}", f"line has index {e['index']!r}, expected {i}")
        where = f"entry {i}"
        leaf = b64(e["leaf"], where, "leaf")
        try:
            fields = leaf_fields(e, org_bytes, where)
        except (ValueError, UnicodeEncodeError) as err:
            raise Fail(where, str(err))
        off = 0
        for name, seg in fields:
            if leaf[off:off + len(seg)] != seg:
                raise Fail(where, f"field {name}: line gives {seg.hex()} but the leaf has "
                                  f"{leaf[off:off + len(seg)].hex()}")
            off += len(seg)
        if off != len(leaf):
            raise Fail(where, f"leaf has {len(leaf) - off} trailing bytes")
        rng.push(0, leaf_hash(leaf))
    if len(entries) != b - a:
        raise Fail("export", f"{len(entries)} entry lines, header promises {b - a} (truncated?)")

    levels = compact_levels(b, n)
    for level, h in zip(levels, hashes(trailer["right"], len(levels), "trailer", "right")):
        rng.push(level, h)
    if rng.root() != root:
        raise Fail("trailer", "computed root differs from the checkpoint root")
    return b - a, n, root, sig_checked

def main(argv):
    if len(argv) != 3:
        print("usage: verify_export.py EXPORT.jsonl VERIFIER_KEY", file=sys.stderr)
        return 2
    try:
        with open(argv[2], encoding="utf-8") as f:
            verifier = parse_verifier(f.read())
        with open(argv[1], "rb") as f:
            count, size, root, sig_checked = verify(f.read(), verifier)
    except Fail as err:
        print(f"error: {err}")
        return 1
    except (OSError, RecursionError) as err:
        print(f"error: input: {err!r}")
        return 1
    if not sig_checked:
        print("warning: module 'cryptography' not available; Ed25519 signature NOT checked",
              file=sys.stderr)
    print(f"ok: {count} entries, tree size {size}, root {base64.b64encode(root).decode()}")
    return 0

if __name__ == "__main__":
    sys.exit(main(sys.argv))
