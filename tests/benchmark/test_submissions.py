"""Submissions without scoring: loading, the validation pass, export, and the corpus of bad artefacts."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from factorbench import datasets
from factorbench.benchmark import cli, export_encoder
from factorbench.benchmark.store import ResultsStore
from factorbench.benchmark.submissions import (
    Artefact,
    Limits,
    SubmissionError,
    check_codes,
    load_artefact,
    make_encoder,
    validate,
    validation_images,
)

MODULE_NAME = "make"  # tests/benchmark/bad_artefacts/make.py, imported by name (python: specs run in a child)


def _load_make():
    folder = str(Path(__file__).parent / "bad_artefacts")
    if folder not in sys.path:
        sys.path.insert(0, folder)  # the encoder's process inherits sys.path, so it finds python:make:... too
    return importlib.import_module(MODULE_NAME)


make = _load_make()


@pytest.fixture(scope="module")
def dataset():
    return datasets.load("identity")


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    folder = tmp_path_factory.mktemp("good")
    return {
        "jax": export_encoder(make.encoder_fn, make.encoder_params(), make.CHANNELS, folder / "enc.jaxexport"),
        "onnx": make.write_onnx(folder / "enc.onnx"),
        "onnx_fixed": make.write_onnx(folder / "enc_b5.onnx", batch=5),
    }


@pytest.fixture(scope="module")
def images(dataset):
    return validation_images(dataset, 13, seed=3)


@pytest.mark.parametrize("kind, batch", [("jax", None), ("onnx", None), ("onnx_fixed", 5)])
def test_good_encoders_validate_and_match_the_reference(good, dataset, images, kind, batch):
    artefact = load_artefact(good[kind], dataset.num_channels)
    assert artefact.batch_size == batch and not artefact.trusted_code and len(artefact.sha256) == 64
    report = validate(artefact, dataset)
    assert report.code_dim == make.CODE_DIM and report.images == 16 and report.ms_per_image > 0
    codes = make_encoder(artefact, chunk_size=4)(images)  # 13 images: chunks of 4 (or 5) plus a padded rest
    assert codes.dtype == np.float32 and codes.shape == (13, make.CODE_DIM)
    np.testing.assert_allclose(codes, make.reference_codes(images), rtol=1e-5, atol=1e-6)


def test_jax_and_onnx_give_the_same_codes(good, dataset):
    images = np.asarray(dataset.images_float(dataset.sample_factors(300, 0), 0))
    jax_codes = make_encoder(load_artefact(good["jax"], 1))(images)
    onnx_codes = make_encoder(load_artefact(good["onnx_fixed"], 1))(images)
    np.testing.assert_allclose(jax_codes, onnx_codes, rtol=1e-5, atol=1e-6)
    assert np.ptp(jax_codes, axis=0).min() > 0.1  # codes really vary with the factors


def test_python_spec_is_trusted_code(dataset, images):
    artefact = load_artefact(f"python:{MODULE_NAME}:numpy_encoder", dataset.num_channels)
    assert artefact.format == "python" and artefact.trusted_code and artefact.batch_size is None
    validate(artefact, dataset)
    np.testing.assert_allclose(make_encoder(artefact)(images), make.reference_codes(images), rtol=1e-6)


def test_onnx_with_external_weights(dataset, images, tmp_path):
    import onnx

    model = make.write_onnx(tmp_path / "enc.onnx", external="enc.onnx.data")
    artefact = load_artefact(model, 1)
    np.testing.assert_allclose(make_encoder(artefact)(images), make.reference_codes(images), rtol=1e-5, atol=1e-6)
    assert artefact.size_bytes > model.stat().st_size  # the weights file counts towards the size limit
    (tmp_path / "enc.onnx.data").write_bytes((tmp_path / "enc.onnx.data").read_bytes()[::-1])
    assert load_artefact(model, 1).sha256 != artefact.sha256  # and towards the hash
    (tmp_path / "enc.onnx.data").unlink()
    with pytest.raises(SubmissionError, match="which is missing"):
        load_artefact(model, 1)
    make.write_onnx(model, external="enc.onnx.data")
    proto = onnx.load_model(str(model), load_external_data=False)
    for tensor in proto.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = "../enc.onnx.data"
    model.write_bytes(proto.SerializeToString())
    with pytest.raises(SubmissionError, match="outside the model's folder"):
        load_artefact(model, 1)


def test_run_folder_offers_its_mean_encoder(good, tmp_path):
    (tmp_path / "encoder_mean.jaxexport").write_bytes(good["jax"].read_bytes())
    artefact = load_artefact(tmp_path, 1)
    assert artefact.format == "jax.export" and artefact.spec.endswith("encoder_mean.jaxexport")
    with pytest.raises(SubmissionError, match="encoder_gaussian.jaxexport"):
        load_artefact(tmp_path, 1, representation="sampled")


def test_export_encoder_is_the_training_engines_and_its_mistakes_are_caught(tmp_path):
    from factorbench.models import export_encoder as engine_exporter

    assert export_encoder is engine_exporter  # one exporter for training runs and submitters (contract 2)
    rank1 = export_encoder(lambda p, x: x.mean(axis=(1, 2, 3)), None, 1, tmp_path / "rank1.jaxexport")
    with pytest.raises(SubmissionError, match="output has rank 1"):
        load_artefact(rank1, 1)
    wide = export_encoder(lambda p, x: x.reshape(x.shape[0], -1)[:, :2048], None, 1, tmp_path / "wide.jaxexport")
    with pytest.raises(SubmissionError, match="code dimension is 2048"):
        load_artefact(wide, 1)


def test_sampled_representation_reads_means_and_log_variances(images):
    half = np.zeros((1, 3), np.float32)
    gaussian = Artefact(spec="gaussian", format="python", batch_size=None,
                        call=lambda x: np.tile(np.concatenate([half + 5.0, half + np.log(4.0)], axis=1), (len(x), 1)))
    encode = make_encoder(gaussian, representation="sampled", seed=1)
    samples = np.concatenate([encode(images) for _ in range(200)])
    assert samples.shape == (200 * len(images), 3)
    np.testing.assert_allclose(samples.mean(axis=0), 5.0, atol=0.1)
    np.testing.assert_allclose(samples.std(axis=0), 2.0, rtol=0.05)
    again = make_encoder(gaussian, representation="sampled", seed=1)
    np.testing.assert_array_equal(again(images), make_encoder(gaussian, representation="sampled", seed=1)(images))
    assert not np.array_equal(again(images), make_encoder(gaussian, representation="sampled", seed=2)(images))


@pytest.mark.parametrize("raw, message", [
    (np.zeros((4, 0), np.float32), "dimension 0"),
    (np.zeros((4, 1025), np.float32), "dimension 1025"),
    (np.zeros((4, 3), np.int64), "int64 codes"),
    (np.zeros((4, 3, 1), np.float32), "expected rank 2"),
    (np.zeros((3, 3), np.float32), "3 codes for 4 images"),
    ((np.zeros((4, 3)), np.zeros((4, 3))), "returned a tuple"),
    (np.full((4, 3), np.inf, np.float32), "Inf codes for 4 of 4"),
])
def test_check_codes_names_the_problem(raw, message):
    with pytest.raises(SubmissionError, match=message):
        check_codes(raw, 4)
    assert check_codes(np.ones((4, 2), np.float64), 4).dtype == np.float32


def test_nan_seen_only_while_scoring_still_stops(images):
    def late_nan(x):
        codes = make.reference_codes(x)
        codes[x.mean(axis=(1, 2, 3)) > 0.99] = np.nan
        return codes

    encode = make_encoder(Artefact(spec="late", format="python", call=late_nan, batch_size=None), chunk_size=8)
    with pytest.raises(SubmissionError, match="NaN codes for 1 of 8 images"):
        encode(np.concatenate([images[:4], np.ones((1, 64, 64, 1), np.float32)]))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make.bad_corpus(tmp_path_factory.mktemp("bad"))


def test_bad_artefact_corpus(corpus, tmp_path, capfd):
    """Each bad artefact: exit 2, exactly one line on stderr naming the problem, and nothing in the store."""
    assert len(corpus) >= 20
    db = tmp_path / "results.db"
    ResultsStore(db)
    failures = []
    for case in corpus:
        code = cli.main(["submit", case.spec, "--dataset", "identity", "--name", case.id, "--results", str(db),
                         "--no-progress", *case.flags])
        out, err = capfd.readouterr()
        lines = err.splitlines()
        if code != 2 or len(lines) != 1 or not lines[0].startswith("factorbench: error: ") \
                or case.expect.lower() not in lines[0].lower() or out:
            failures.append(f"{case.id}: exit {code}, stdout {out!r}, stderr {err!r} (expected {case.expect!r})")
    assert not failures, "\n".join(failures)
    store = ResultsStore(db)
    assert store.runs() == [] and store.scores() == []


def test_bad_artefact_from_the_installed_command(corpus):
    """The real `factorbench` process: non-zero exit, one stderr line, no store file created."""
    case = next(c for c in corpus if c.id == "huge_file")
    store = Path(case.spec).parent / "never.db"
    proc = subprocess.run([sys.executable, "-m", "factorbench.benchmark.cli", "submit", case.spec, "--dataset",
                           "identity", "--name", "x", "--results", str(store)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "over the 1,024 MiB limit" in proc.stderr
    assert not store.exists()


def test_limits_are_configurable(good, dataset):
    artefact = load_artefact(good["onnx"], 1)
    with pytest.raises(SubmissionError, match="over the 0.001 MiB limit"):
        load_artefact(good["onnx"], 1, limits=Limits(max_file_mb=0.001))
    with pytest.raises(SubmissionError, match="too slow"):
        validate(artefact, dataset, limits=Limits(max_ms_per_image=1e-6))
    with pytest.raises(SubmissionError, match="wrong channels"):
        load_artefact(good["onnx"], 3)
