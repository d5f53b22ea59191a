"""Turns bench/compare.sh's results.tsv into the Markdown tables of BENCHMARKS.md.

    python3 report.py RESULTS_TSV VERSIONS_TXT N SMALL LARGE DECRYPT_MIB HELP_RUNS OTHER_RUNS REPEAT
"""

import sys

CLIENTS = ["ksef-rs", "ksef-client", "ksef2", "ksef-client-ts"]


def main():
    results_path, versions_path, n, small, large, mib, help_runs, other_runs, repeat = sys.argv[1:10]
    n = int(n)
    tasks = {
        "batch-small": f"Batch packaging, {n:,} × {int(small) // 1024} KiB",
        "batch-large": f"Batch packaging, {n:,} × {int(large) // 1024} KiB",
        "online": f"Online-send preparation, {n:,} × {int(small) // 1024} KiB",
        "decrypt": f"Export decryption, {int(mib):,} MiB",
        "startup": "Start-up (CLI `--help`, else import)",
    }
    rows = {}
    for line in open(results_path, encoding="utf-8"):
        task, client, wall, rss, status = line.rstrip("\n").split("\t")
        rows[(task, client)] = (float(wall) if wall else None, int(rss) if rss else None, status)

    def absolute(wall, rss, task):
        w = f"{wall * 1000:.1f} ms" if task == "startup" else f"{wall:.2f} s"
        return f"{w}, {rss / 1024:.1f} MiB"

    out = [
        f"Median of {repeat} runs per task ({help_runs} runs of `ksef --help`, {other_runs} of the"
        " other clients' start-up). ksef-rs: absolute figures; others: their time and peak RSS as"
        " a multiple of ksef-rs's (**higher is worse**), then their absolute figures.",
        "",
    ]
    out.append("| Task | " + " | ".join(CLIENTS) + " |")
    out.append("|---|" + "---|" * len(CLIENTS))
    for task, title in tasks.items():
        cells = []
        ours = rows.get((task, "ksef-rs"))
        for client in CLIENTS:
            wall, rss, status = rows.get((task, client), (None, None, "n/a (not run)"))
            if status != "ok":
                cells.append(status.replace("|", "/"))
            elif client == "ksef-rs" or not ours or ours[2] != "ok" or not ours[0] or not ours[1]:
                cells.append(absolute(wall, rss, task))
            else:
                cells.append(
                    f"**{wall / ours[0]:.1f}×** time, **{rss / ours[1]:.1f}×** RSS"
                    f" ({absolute(wall, rss, task)})"
                )
        out.append(f"| {title} | " + " | ".join(cells) + " |")
    out.append("")
    help_row = rows.get(("startup", "ksef-rs"))
    if help_row and help_row[2] == "ok":
        wall, rss, _ = help_row
        out.append("| `ksef --help` | median wall | goal | median peak RSS | goal |")
        out.append("|---|---|---|---|---|")
        out.append(
            f"| {help_runs} runs | {wall * 1000:.1f} ms | ≤ 10 ms {'✓' if wall <= 0.010 else '✗'} "
            f"| {rss / 1024:.1f} MiB | ≤ 10 MiB {'✓' if rss <= 10 * 1024 else '✗'} |"
        )
        out.append("")
    out.append("Versions and machine:")
    out.append("")
    out.append("```text")
    out.extend(open(versions_path, encoding="utf-8").read().rstrip().splitlines())
    out.append("```")
    print("\n".join(out))


if __name__ == "__main__":
    main()
