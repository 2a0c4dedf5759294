#!/usr/bin/env python3
"""Throughput and memory of stripwatch, measured side by side with baseline
loops on the same capture, in one run (the machine is noisy: compare the
ratios, not the absolute figures).

  python3 scripts/bench.py [--runs N] [--sizes mixed-1g,mail-300m,...] [--quick]
  python3 scripts/bench.py --sizes '' --diff-sessions 200000   # the diff row only

Captures come from ../shared/bench/gen_pcap.py (generated into /tmp/bench
when missing, with the exact commands of its README). --quick uses small
captures, for CI: it proves the script works and times nothing that is
asserted.

Rows: `read` (pcap-parser over a bounded buffer, nothing else), `decode`
(read + etherparse headers + a five-tuple hash-map lookup per TCP packet:
the floor of any analyzer), `peek-N` (the analysis's own reading on N
threads: chunks read in parallel, every frame's ports peeked at, nothing
analyzed; N = 1 and the cores), `stripwatch-N` for every thread count from
1 to twice the cores (the whole pipeline, JSON report to /dev/null),
`stripwatch-default` (no --threads: one worker per core), and `tshark -z
credentials` when tshark is installed (--no-tshark leaves it out).
`--baseline BIN` adds `baseline-1` and `baseline-N` (N the cores) of
another build in the same rounds. Medians over --runs (and the fastest
run: on a machine others use, the one least disturbed); peak RSS from
/usr/bin/time.

A second table times `stripwatch diff` on two taps of --diff-sessions
generated sessions (`bench_loops difftaps`: the same SMTP sessions at both
taps, a fifth of them behind a NAT, a tenth through a proxy, a tenth at
one tap only; 100 sessions a second); --quick uses 2,000, 0 leaves it out.
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GEN = os.path.join(ROOT, '..', 'shared', 'bench', 'gen_pcap.py')
BENCH_DIR = os.environ.get('STRIPWATCH_BENCH_DIR', '/tmp/bench')

# name -> gen_pcap.py arguments (from its README)
CAPTURES = {
    'mixed-1g': ['--sessions', '230000', '--size-mb', '1000', '--mail-share', '0.15', '--seed', '1'],
    'mail-300m': ['--size-mb', '300', '--mail-share', '1.0', '--seed', '2'],
    'lossy-200m': ['--size-mb', '200', '--mail-share', '1.0', '--reorder', '0.05', '--retransmit', '0.02',
                   '--loss', '0.005', '--seed', '3'],
    # Two sizes of the same mix, to show memory does not grow with input size.
    'mixed-100m': ['--sessions', '23000', '--size-mb', '100', '--mail-share', '0.15', '--seed', '1'],
    'mixed-400m': ['--sessions', '92000', '--size-mb', '400', '--mail-share', '0.15', '--seed', '1'],
    # Small ones for CI.
    'quick-10m': ['--sessions', '2000', '--size-mb', '10', '--mail-share', '0.15', '--seed', '4'],
    'quick-mail-5m': ['--size-mb', '5', '--mail-share', '1.0', '--seed', '5'],
}


def ensure_capture(name):
    path = os.path.join(BENCH_DIR, name + '.pcap')
    if not os.path.exists(path):
        os.makedirs(BENCH_DIR, exist_ok=True)
        print(f'generating {path} ...', file=sys.stderr)
        subprocess.run([sys.executable, GEN, *CAPTURES[name], '--out', path,
                        '--truth', os.path.join(BENCH_DIR, name + '.truth.jsonl'),
                        '--expected', os.path.join(BENCH_DIR, name + '.expected.json')],
                       check=True, stdout=subprocess.DEVNULL)
    return path


def build():
    subprocess.run(['cargo', 'build', '--release', '--quiet', '--bin', 'stripwatch',
                    '--example', 'bench_loops'], cwd=ROOT, check=True)
    target = os.environ.get('CARGO_TARGET_DIR', os.path.join(ROOT, 'target'))
    return (os.path.join(target, 'release', 'stripwatch'),
            os.path.join(target, 'release', 'examples', 'bench_loops'))


def timed(cmd):
    """Wall seconds and peak RSS (KiB) of one run of `cmd`. The RSS comes
    from /usr/bin/time, whose own fork is small (a Python fork would count
    the interpreter's memory in the child's peak)."""
    start = time.perf_counter()
    p = subprocess.run(['/usr/bin/time', '-f', '%M', *cmd], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    secs = time.perf_counter() - start
    if p.returncode not in (0, 1):
        raise SystemExit(f'{cmd}: exit {p.returncode}: {p.stderr[-500:]}')
    return secs, int(p.stderr.strip().splitlines()[-1])


def packets_of(loops, path):
    out = subprocess.run([loops, 'read', path], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0].split('=')[1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--sizes', default='mixed-1g,mail-300m,lossy-200m')
    ap.add_argument('--quick', action='store_true')
    ap.add_argument('--no-tshark', action='store_true')
    ap.add_argument('--diff-sessions', type=int, default=200_000,
                    help='sessions per tap of the diff row (0: no diff row)')
    ap.add_argument('--extra', action='append', default=[],
                    help='extra stripwatch rows: NAME=ARGS (e.g. "threads-1=--threads 1")')
    ap.add_argument('--baseline', metavar='BIN',
                    help='another stripwatch binary (an older build) timed in the same rounds '
                         'as the rows baseline-1 and baseline-N: a ratio measured side by side')
    args = ap.parse_args()
    names = ['quick-10m', 'quick-mail-5m'] if args.quick else [n for n in args.sizes.split(',') if n]
    stripwatch, loops = build()
    rows = []
    for name in names:
        path = ensure_capture(name)
        size = os.path.getsize(path)
        packets = packets_of(loops, path)
        analyze = [stripwatch, 'analyze', '--format', 'json', '--quiet']
        cores = os.cpu_count() or 1
        commands = [('read', [loops, 'read', path]), ('decode', [loops, 'decode', path])]
        commands += [(f'peek-{n}', [loops, 'peek', path, str(n)]) for n in sorted({1, cores})]
        commands += [(f'stripwatch-{n}', [*analyze, '--threads', str(n), path])
                     for n in range(1, 2 * cores + 1)]
        commands.append(('stripwatch-default', [*analyze, path]))
        if shutil.which('tshark') and not args.no_tshark:
            commands.append(('tshark -z credentials', ['tshark', '-r', path, '-q', '-z', 'credentials']))
        # --history (issue 15): the run reads a fresh SQLite history, proves
        # against it and writes its observations (goal: under 10% more than
        # the same run without).
        history_db = os.path.join(tempfile.gettempdir(), f'stripwatch-bench-{os.getpid()}.db')
        for threads, label in (('1', 'history-1'), (str(os.cpu_count()), f'history-{os.cpu_count()}')):
            commands.append((label, ['sh', '-c', 'rm -f "$1"; shift; exec "$@"', 'sh', history_db,
                                     *analyze, '--threads', threads, '--history', history_db,
                                     '--sensor', 'bench', path]))
        for extra in args.extra:
            label, _, extra_args = extra.partition('=')
            commands.append((label, [*analyze, *extra_args.split(), path]))
        if args.baseline:
            base = [args.baseline, *analyze[1:]]
            commands.append(('baseline-1', [*base, '--threads', '1', path]))
            commands.append((f'baseline-{cores}', [*base, '--threads', str(cores), path]))
        samples = {label: [] for label, _ in commands}
        # Interleave the runs so that load changes hit every row alike.
        for _ in range(args.runs):
            for label, cmd in commands:
                samples[label].append(timed(cmd))
        floor = statistics.median(t for t, _ in samples['decode'])
        for label, _ in commands:
            secs = statistics.median(t for t, _ in samples[label])
            fastest = min(t for t, _ in samples[label])
            rss = max(m for _, m in samples[label])
            rows.append((name, label, secs, fastest, size / max(secs, 1e-9) / 1e6,
                         packets / max(secs, 1e-9), rss / 1024, floor / max(secs, 1e-9)))
    diff_sessions = 2_000 if args.quick else args.diff_sessions
    diff_row = bench_diff(stripwatch, loops, diff_sessions, args.runs) if diff_sessions else None
    if rows:
        print(f'| capture | run | seconds (median of {args.runs}) | fastest | MB/s | packets/s | peak RSS MB | vs decode floor |')
        print('|---|---|---|---|---|---|---|---|')
    for name, label, secs, fastest, mbs, pps, rss, ratio in rows:
        print(f'| {name} | {label} | {secs:.3f} | {fastest:.3f} | {mbs:.0f} | {pps/1e6:.2f} M | {rss:.1f} | {ratio:.0%} |')
    if diff_row:
        if rows:
            print()
        print(f'| run | sessions (95% at each tap) | seconds (median of {args.runs}) | peak RSS MB |')
        print('|---|---|---|---|')
        print('| diff | {:,} | {:.3f} | {:.1f} |'.format(*diff_row))


def bench_diff(stripwatch, loops, sessions, runs):
    """Seconds and peak RSS of `stripwatch diff` on two generated taps of
    `sessions` sessions."""
    inside = os.path.join(BENCH_DIR, f'difftaps-{sessions}.inside.pcap')
    outside = os.path.join(BENCH_DIR, f'difftaps-{sessions}.outside.pcap')
    if not (os.path.exists(inside) and os.path.exists(outside)):
        os.makedirs(BENCH_DIR, exist_ok=True)
        print(f'generating {inside} and {outside} ...', file=sys.stderr)
        subprocess.run([loops, 'difftaps', str(sessions), inside, outside], check=True)
    samples = [timed([stripwatch, 'diff', '--format', 'json', '--quiet', inside, outside])
               for _ in range(runs)]
    return (sessions, statistics.median(t for t, _ in samples),
            max(m for _, m in samples) / 1024)


if __name__ == '__main__':
    main()
