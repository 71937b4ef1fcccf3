"""A job's uncaught exception reaches its log file, message first (rule scripts run as processes)."""

import subprocess
import sys


def test_an_uncaught_error_is_written_to_the_job_log_before_the_job_fails(tmp_path):
    log = tmp_path / "logs" / "job.log"
    script = tmp_path / "job.py"
    script.write_text(
        "from morphopotency.scriptlog import job_logger\n"
        f"log = job_logger({str(log)!r}, 'job')\n"
        "log.info('started')\n"
        "def read(row):\n"
        "    raise ValueError(f'table.tsv: row {row}: not a number')\n"
        "read(3)\n"
    )
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert result.returncode == 1
    assert "ValueError: table.tsv: row 3: not a number" in result.stderr  # the console keeps its copy
    lines = log.read_text().splitlines()
    assert lines[0].endswith("INFO started")
    assert lines[1].endswith("ERROR ValueError: table.tsv: row 3: not a number")
    assert lines[2].endswith("ERROR traceback:") and "Traceback (most recent call last):" in lines[3]
    assert any("in read" in line for line in lines[3:]) and lines[-1].startswith("ValueError: table.tsv")
