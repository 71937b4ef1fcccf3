"""The shape and combined scorers, one per left-out reference donor, and every scorer's out-of-donor
separation (rule cnn_scorers): what a scoring run chooses its scorer by."""

import json

import pandas as pd

from morphopotency.io.atomic import atomic_path
from morphopotency.io.tables import write_tsv
from morphopotency.scorers import choose_scorer, comparison, fit_lodo_scorers
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "cnn_scorers")
cells = pd.read_csv(snakemake.input.cells, sep="\t", dtype={"donor": str, "image": str})
lodo = pd.concat(
    [
        pd.read_csv(f, sep="\t", dtype={"donor": str, "image": str, "held_out": str})
        for f in snakemake.input.lodo
    ],
    ignore_index=True,
)
models, predictions = fit_lodo_scorers(cells, lodo)
cnn = lodo[lodo["role"] == "test"].assign(scorer="cnn")[predictions.columns]
every = pd.concat([cnn, predictions], ignore_index=True)
table = comparison({scorer: part for scorer, part in every.groupby("scorer", sort=False)})
with atomic_path(snakemake.output.models) as tmp:
    tmp.write_text(json.dumps(models, indent=1) + "\n")
write_tsv(every, snakemake.output.predictions)
write_tsv(table, snakemake.output.comparison)
log.info("scorers out of donor:\n%s\n%s", table.to_string(index=False), choose_scorer("auto", table)[1])
