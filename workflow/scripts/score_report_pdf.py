"""The QC report printed to PDF (rule score_report_pdf): results/report/score_report.pdf."""

from morphopotency.report.pdf import print_pdf
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "score_report_pdf")
print_pdf(snakemake.input.html, snakemake.output.pdf)
log.info("printed %s to %s", snakemake.input.html, snakemake.output.pdf)
