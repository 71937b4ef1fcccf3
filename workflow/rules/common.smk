# Configuration and sample sheet: validated here, before any job is scheduled, so that a typo or a bad
# row stops the run with a message naming the key, file or line.

from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from morphopotency.config import ConfigError, check_config, demo_outdir, load_schema
from morphopotency.samples import images_by_donor, read_sample_sheet
from morphopotency.simulate import planned_image_files

SCHEMAS = Path(workflow.basedir) / "workflow" / "schemas"
ID = "[A-Za-z0-9_-]+"

wildcard_constraints:
    donor=ID,
    sample=ID,
    image=ID,


def _fail(error):
    # A WorkflowError prints as a plain message rather than a Python traceback.
    raise WorkflowError(str(error))


try:
    check_config(config, load_schema(SCHEMAS / "config.schema.yaml"), source="config")
    validate(config, SCHEMAS / "config.schema.yaml", set_default=True)
    SAMPLES = read_sample_sheet(config["samples"], load_schema(SCHEMAS / "samples.schema.yaml"))
    validate(SAMPLES, SCHEMAS / "samples.schema.yaml")
except ConfigError as error:
    _fail(error)

DEMO = demo_outdir(config)
IMAGE_DONORS = sorted(SAMPLES.loc[SAMPLES["images"] != "", "donor"])
if DEMO is not None:
    _fractions = config["demo"].get("multipotent_fraction", {})
    _unplanted = [d for d in IMAGE_DONORS if d not in _fractions]
    if _unplanted:
        _fail(ConfigError(f"config: demo.multipotent_fraction has no value for donor(s) {', '.join(_unplanted)} "
                          "that have images in the sample sheet"))
    DEMO_FIELDS = config["demo"]["fields_per_donor"]
    PLANNED_IMAGES = [
        f for d in IMAGE_DONORS for f in planned_image_files(DEMO / "images" / d, d, DEMO_FIELDS)
    ]
else:
    PLANNED_IMAGES = []

try:
    IMAGES = images_by_donor(SAMPLES, PLANNED_IMAGES)
except ConfigError as error:
    _fail(ConfigError(f"{config['samples']}: {error}"))


PROVENANCE_INPUTS = "results/provenance/inputs.tsv"


def provenance_inputs():
    """role -> files, in a fixed order so the manifest is reproducible."""
    files = {"samples": [config["samples"]], "expression_table": [config["rnaseq"]["table"]]}
    if config["rnaseq"].get("gene_lengths"):
        files["gene_lengths"] = [config["rnaseq"]["gene_lengths"]]
    files["gene_sets"] = [config["rnaseq"]["gene_sets"]["bp"], config["rnaseq"]["gene_sets"]["cc"]]
    files["images"] = [str(p) for donor in sorted(IMAGES) for p in IMAGES[donor].values()]
    return files


def demo_targets():
    return [
        str(DEMO / "truth/donors.tsv"),
        str(DEMO / "rnaseq/demo_counts.tsv.gz"),
        str(DEMO / "rnaseq/gene_lengths.tsv"),
        *map(str, PLANNED_IMAGES),
    ]


def all_targets():
    """Final outputs of every stage that exists; later stages add theirs here."""
    targets = [PROVENANCE_INPUTS]
    if DEMO is not None:
        targets += demo_targets()
    return targets
