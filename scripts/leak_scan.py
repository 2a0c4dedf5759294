#!/usr/bin/env python3
"""Scans captures for secrets that leave the process without --show-secrets.

    python3 scripts/leak_scan.py [--bin target/release/stripwatch] DIR_OR_FILE...

For every capture it takes the secrets `analyze --format json --show-secrets`
reports (4 bytes or longer), then runs the table, JSON and JSON lines formats
and `--write-evidence` without --show-secrets and looks for each secret in
all of them. A hit where the secret is also part of a username the report
shows (usernames are shown by design) is `shown-username`, one in the text
that stripwatch's own wording holds ("password") `own-wording`; a hit
in the evidence pcap only, of bytes that cross more often in the capture
than in its logins (a password that is a word of a mail body), as
`also-elsewhere`; any other hit is a `LEAK`. Exit status 1 when there is a
LEAK. (A gzip capture is compared as its compressed bytes.)
"""
import argparse, json, os, subprocess, sys, tempfile

EXTS = ('.pcap', '.pcapng', '.cap', '.gz')


def captures(paths):
    for p in paths:
        if os.path.isdir(p):
            for root, _, files in os.walk(p):
                yield from (os.path.join(root, f) for f in sorted(files) if f.endswith(EXTS))
        else:
            yield p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--bin', default='target/release/stripwatch')
    ap.add_argument('paths', nargs='+')
    args = ap.parse_args()
    leaks = checked = 0
    # stripwatch's own wording (finding messages say "password"): the
    # reports over the committed findings samples, secrets masked.
    samples = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'samples', 'findings')
    own = ''.join(subprocess.run([args.bin, 'analyze', '--format', fmt, samples],
                                 capture_output=True, text=True).stdout for fmt in ('table', 'json', 'jsonl'))
    with tempfile.TemporaryDirectory() as tmp:
        for i, cap in enumerate(captures(args.paths)):
            shown = subprocess.run([args.bin, 'analyze', '--format', 'json', '--quiet', '--show-secrets', cap],
                                   capture_output=True, text=True)
            try:
                report = json.loads(shown.stdout)
            except ValueError:
                continue
            creds = [c for s in report.get('sessions', []) for c in s.get('credentials', [])]
            secrets = {c['secret'] for c in creds if len(c.get('secret') or '') >= 4}
            users = [c.get('username') or '' for c in creds]
            if not secrets:
                continue
            text = ''
            for fmt in ('table', 'json', 'jsonl'):
                r = subprocess.run([args.bin, 'analyze', '--format', fmt, cap], capture_output=True, text=True)
                text += r.stdout + r.stderr
            evidence = os.path.join(tmp, f'{i}.pcap')
            subprocess.run([args.bin, 'analyze', '--quiet', '--format', 'jsonl', '--write-evidence', evidence, cap],
                           capture_output=True)
            pcap = open(evidence, 'rb').read() if os.path.exists(evidence) else b''
            original = open(cap, 'rb').read()
            for secret in sorted(secrets):
                checked += 1
                why = []
                if secret in text:
                    why.append('own-wording' if secret in own else 'LEAK in text')
                if secret.encode() in pcap:
                    carried = sum(c.get('secret') == secret for c in creds)
                    again = original.count(secret.encode()) > carried
                    why.append('also-elsewhere' if again else 'LEAK in pcap')
                if not why:
                    continue
                if any(secret in u for u in users):
                    why = ['shown-username']
                kind = 'LEAK' if any(w.startswith('LEAK') for w in why) else 'ok'
                leaks += kind == 'LEAK'
                where = ', '.join(why)
                print(f'{kind} {cap}: {secret[:40]!r}: {where}')
    print(f'secrets checked {checked}, leaks {leaks}')
    return 1 if leaks else 0


if __name__ == '__main__':
    sys.exit(main())
