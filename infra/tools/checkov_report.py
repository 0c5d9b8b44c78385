"""Judge a checkov JSON report for the template gate (scripts/lib/common.sh: checkov_gate).

Fails (exit 1) on any failed check, on a suppression without a written reason, and on parsing
errors; prints one line per problem and a one-line summary otherwise.

    checkov -f template.yaml --framework cloudformation --skip-download -o json > report.json
    python infra/tools/checkov_report.py report.json
"""

import json
import sys


def main(path):
    with open(path, encoding="utf-8") as f:
        report = json.load(f)
    # One framework gives one report object; several give a list of them.
    reports = report if isinstance(report, list) else [report]
    problems, passed, skipped = [], 0, 0
    for r in reports:
        results = r.get("results", {})
        passed += len(results.get("passed_checks", []))
        for check in results.get("failed_checks", []):
            lines = "-".join(str(n) for n in check.get("file_line_range", []))
            problems.append(f"FAILED {check['check_id']} {check['resource']} (line {lines}): {check['check_name']}")
        for check in results.get("skipped_checks", []):
            skipped += 1
            comment = (check.get("check_result", {}).get("suppress_comment") or "").strip()
            if not comment or comment == "No comment provided":
                problems.append(f"SUPPRESSED WITHOUT A REASON {check['check_id']} {check['resource']}")
        for error in results.get("parsing_errors", []):
            problems.append(f"PARSING ERROR {error}")
    for line in problems:
        print(f"checkov: {line}", file=sys.stderr)
    print(f"checkov: {passed} passed, {len(problems)} failed, {skipped} suppressed with a reason", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
