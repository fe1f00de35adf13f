"""The Locatello et al. study grid against disentanglement_lib's numbering, and `reproduce --only-print`."""

from __future__ import annotations

import pytest

from factorbench.benchmark.cli import main
from factorbench.benchmark.studies import get_study, parse_seeds
from factorbench.metrics.driver import PROTOCOL_VERSIONS

# What dlib's `dlib_reproduce --model_num=N --only_print` lists under "Gin bindings for model training", written
# out by hand from config/unsupervised_study_v1/sweep.py (product: dataset, architecture, model, seed; zipit order).
DLIB = {
    0: ["dataset.name = 'dsprites_full'", "encoder.encoder_fn = @conv_encoder", "decoder.decoder_fn = @deconv_decoder",
        "model.name = 'beta_vae'", "vae.beta = 1.0", "model.model = @vae()", "model.random_seed = 0"],
    300: ["dataset.name = 'dsprites_full'", "encoder.encoder_fn = @conv_encoder",
          "decoder.decoder_fn = @deconv_decoder", "model.name = 'factor_vae'", "factor_vae.gamma = 10.0",
          "model.model = @factor_vae()", "discriminator.discriminator_fn = @fc_discriminator",
          "model.random_seed = 0"],
    1799: ["dataset.name = 'dsprites_full'", "encoder.encoder_fn = @conv_encoder",
           "decoder.decoder_fn = @deconv_decoder", "model.name = 'annealed_vae'", "annealed_vae.c_max = 100.0",
           "annealed_vae.iteration_threshold = 100000", "annealed_vae.gamma = 1000", "model.model = @annealed_vae()",
           "model.random_seed = 49"],
    5400: ["dataset.name = 'scream_dsprites'", "encoder.encoder_fn = @conv_encoder",
           "decoder.decoder_fn = @deconv_decoder", "model.name = 'beta_vae'", "vae.beta = 1.0", "model.model = @vae()",
           "model.random_seed = 0"],
    12599: ["dataset.name = 'shapes3d'", "encoder.encoder_fn = @conv_encoder", "decoder.decoder_fn = @deconv_decoder",
            "model.name = 'annealed_vae'", "annealed_vae.c_max = 100.0", "annealed_vae.iteration_threshold = 100000",
            "annealed_vae.gamma = 1000", "model.model = @annealed_vae()", "model.random_seed = 49"],
}
OURS = {  # model_num: (objective, hyperparameters, seed, dlib dataset)
    0: ("beta_vae", {"beta": 1.0}, 0, "dsprites_full"),
    300: ("factor_vae", {"gamma": 10.0}, 0, "dsprites_full"),
    1799: ("annealed_vae", {"c_max": 100.0, "iteration_threshold": 100000, "gamma": 1000}, 49, "dsprites_full"),
    5400: ("beta_vae", {"beta": 1.0}, 0, "scream_dsprites"),
    12599: ("annealed_vae", {"c_max": 100.0, "iteration_threshold": 100000, "gamma": 1000}, 49, "shapes3d"),
}


@pytest.mark.parametrize("model_num", sorted(DLIB))
def test_pinned_model_numbers_match_dlib(model_num, capsys):
    study = get_study("unsupervised_study_v1")
    config = study.config(model_num)
    assert list(config.dlib_bindings) == DLIB[model_num]
    assert (config.model, config.hparams, config.seed, config.dataset_slot) == OURS[model_num]
    assert config.run_id == f"locatello2019-{model_num:05d}" and config.steps == 300_000 and config.batch_size == 64
    assert main(["reproduce", "--study", "locatello2019", "--model-num", str(model_num), "--only-print"]) == 0
    out = capsys.readouterr().out
    block = out.split("--\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert block == DLIB[model_num]
    assert f"objective      {OURS[model_num][0]}" in out and f"seed           {OURS[model_num][2]}" in out


def test_dry_run_prints_exactly_what_runs_with_every_override(capsys):
    assert main(["reproduce", "--model-num", "0", "--dry-run"]) == 0
    study = capsys.readouterr().out
    assert "steps          300,000 real updates\n" in study and "batch size     64" in study
    assert "learning rate  0.0001 (Adam)" in study and "architecture   conv, 10 latents" in study
    assert f"protocol dlib/{PROTOCOL_VERSIONS['dlib']}" in study and "train=10000, test=5000" in study
    assert "track          sprites-dlib v1" in study  # dsprites_full runs on the procedural sprites here
    assert main(["reproduce", "--model-num", "0", "--steps", "100", "--protocol", "fast", "--metrics", "mig",
                 "--sample-size", "train=500", "--only-print"]) == 0  # dlib's spelling of --dry-run
    short = capsys.readouterr().out
    assert "steps          100 real updates (shortened" in short
    assert f"protocol fast/{PROTOCOL_VERSIONS['fast']}" in short
    assert "metrics mig," in short and "train=500," in short and "300,000 real" not in short
    assert "track          none: the scores will be recorded ad hoc" in short


def test_numbering_is_dlibs_formula():
    study = get_study("locatello2019")
    assert len(study) == 12_600 and study.models_per_dataset == 36
    methods = ["beta_vae", "factor_vae", "dip_vae_i", "dip_vae_ii", "beta_tc_vae", "annealed_vae"]
    slots = ["dsprites_full", "color_dsprites", "noisy_dsprites", "scream_dsprites", "smallnorb", "cars3d", "shapes3d"]
    for number in range(0, 12_600, 37):
        config = study.config(number)
        dataset, rest = divmod(number, 1800)
        model, seed = divmod(rest, 50)
        assert (config.dataset_slot, config.model, config.seed) == (slots[dataset], methods[model // 6], seed)
    dip = study.config(2 * 300 + 2 * 50 + 3)
    assert dip.hparams == {"lambda_od": 5.0, "lambda_d_factor": 10.0} and "dip_vae.dip_type = 'i'" in dip.dlib_bindings
    assert study.config(3 * 300).hparams == {"lambda_od": 1.0, "lambda_d_factor": 1.0}
    with pytest.raises(ValueError, match="outside"):
        study.config(12_600)


def test_selections_and_ensemble_groups():
    study = get_study("locatello2019")
    picked = study.configs(datasets=["sprites_textured"], models=["beta_tc_vae"], seeds=[0, 1],
                           hparams={"beta": [1, 10]})
    assert [c.model_num for c in picked] == [5400 + 1200, 5401 + 1200, 5400 + 1450, 5401 + 1450]
    assert {c.group for c in picked} == {("scream_dsprites", "beta_tc_vae")}
    assert len(study.configs(model_nums=[3, 1, 3])) == 2
    with pytest.raises(ValueError, match="Did you mean 'cars3d'"):
        study.configs(datasets=["cars3"])
    with pytest.raises(ValueError, match="seeds 0 .. 49"):
        study.configs(seeds=[50])
    tiny = get_study("tiny")
    assert len(tiny) == 8 and len({c.group for c in tiny.configs()}) == 2 and tiny.shortened(tiny.steps)


def test_parse_seeds_and_cli_errors(capsys):
    assert parse_seeds("0-2,7, 5") == [0, 1, 2, 5, 7]
    for bad in ("", "a", "3-1"):
        with pytest.raises(ValueError, match="0-4 or 0,3,7"):
            parse_seeds(bad)
    assert main(["reproduce", "--only-print"]) == 2
    assert main(["reproduce", "--model", "betavae", "--only-print"]) == 2
    assert "Did you mean 'beta_vae'" in capsys.readouterr().err
    assert main(["reproduce", "--dataset", "cars3d", "--model", "beta_vae", "--seeds", "0-1", "--only-print"]) == 0
    out = capsys.readouterr().out
    assert "12 configurations" in out and " 9000  cars3d" in out
