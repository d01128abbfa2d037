"""``benchmarks/device_suite.py --smoke``: every part of the GPU suite runs on the CPU and lands in the JSON
(the throughput part for the baseline only here, to keep the suite short; by hand ``--smoke`` times every
method)."""
import json
import os
import subprocess
import sys

SCRIPT = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "benchmarks", "device_suite.py")


def test_the_smoke_suite_writes_every_part(tmp_path):
    done = subprocess.run([sys.executable, SCRIPT, "--smoke", "--methods", "baseline", "--out", str(tmp_path)], capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    with open(tmp_path / "device_suite.json") as stream:
        report = json.load(stream)
    assert report["smoke"] and report["environment"]["torch"]
    assert [(case["scale"], case["rerank"]) for case in report["evaluation"]] == [("tiny", False), ("tiny", True)]
    assert all(case["rc"] == 0 and case["json"]["ours_mAP"] is not None for case in report["evaluation"])
    configs = {config["config"]: config for config in report["throughput"]}
    assert set(configs) == {"fp32", "bf16 channels-last (baseline)"}
    fp32 = configs["fp32"]
    assert fp32["rc"] == 0, fp32["output_tail"]
    (row,) = fp32["json"]["rows"]
    assert row["method"] == "baseline" and row["trainer_images_per_s"] > 0 and row["torchreid_images_per_s"] > 0
    options = configs["bf16 channels-last (baseline)"]
    assert options["rc"] == 0 and options["json"]["channels_last"], options["output_tail"]
    (launch,) = report["distributed"]
    assert launch["rc"] == 0 and launch["checked"], launch["output_tail"]
    assert report["embedded"]["rc"] == 0 and report["embedded"]["mAP"] is not None
    assert "## Training throughput" in (tmp_path / "device_suite.md").read_text()
