"""The names that options and config values choose from, and the defaults of options whose module is
heavy, kept in a module without heavy imports (no torch) so that ``reid-bench --help`` builds its parser
quickly; the modules that act on a name import it from here."""

#: retrieval metrics implementations (:mod:`reid_bench.evaluation.evaluate`)
EVALUATORS = ("reid_bench", "torchreid")
#: query-gallery distances (:mod:`reid_bench.evaluation.test_time`)
DISTANCES = ("euclidean", "cosine")
#: mixed precision dtypes (:mod:`reid_bench.engine.acceleration`)
AMP_NAMES = ("fp16", "bf16")
#: where pretrained weights come from (:mod:`reid_bench.models.weights`)
WEIGHT_SOURCES = ("imagenet", "synthetic")
#: export formats, the largest feature difference an export may show, and the real images it is checked on
#: when ``--images`` is not given (the first query images of the embedded dataset) (:mod:`reid_bench.deploy.export`)
EXPORT_FORMATS = ("onnx",)
EXPORT_TOLERANCE = 1e-4
EXPORT_CHECK_IMAGES = 8
