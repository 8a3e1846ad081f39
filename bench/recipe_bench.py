"""Recipes: what the data augmentation costs in training speed, and (`--full`) a named recipe's whole run, chosen on
the validation split and scored on the test split once at the end.

Speed: one epoch of `--images` training images in a fresh process per variant, interleaved rounds, median reported;
the rate includes the augmentation, which the engine runs at the start of each epoch (lenet_workers.engine.augment).
"""
import statistics

from bench import harness
from bench.table import Section
from lenet_protos.contract import RECIPES, VALIDATION_SIZE, VALIDATION_START

AUGMENTATION = {"augment_shift": 2.0, "augment_rotation": 10.0, "augment_scale": 0.1}
SEED_TEST_ACCURACY = 0.9911   # BENCHMARKS.md, "Training through the service: 60,000 images × 20 epochs"


def speed(images: int, repeats: int) -> Section:
    variants = {"seed (no augmentation)": {}, "seed + reshuffle every epoch": {"reshuffle": True},
                "seed + augmentation (±2 px, ±10°, ±10 %)": AUGMENTATION,
                "recipe \"better\" (augmentation, reshuffle, cosine, Nesterov, mean/std)": RECIPES["better"]}
    runs = {name: (lambda options=options: harness.child("engine_train", images=images, eval_images=500,
                                                        cores="all", options=options))
            for name, options in variants.items()}
    results = harness.rounds(runs, repeats)
    rates = {name: statistics.median(run["rate"] for run in runs_) for name, runs_ in results.items()}
    baseline = rates["seed (no augmentation)"]
    rows = [[name, f"{rate:,.0f}", f"{rate / baseline:.2f}×", " ".join(f"{run['rate']:,.0f}" for run in results[name])]
            for name, rate in rates.items()]
    return Section("Recipe options: training speed with and without augmentation",
                   ["run", "images/s", "vs seed", "rounds"], rows,
                   f"{images:,} training images, 1 epoch, an OpenMP thread per core, after a 1,000-image warm-up "
                   f"epoch; median of {repeats} interleaved rounds. The rate counts the epoch's augmentation "
                   "(MXNet's GridGenerator + BilinearSampler over the whole epoch at once).",
                   "python -m bench recipe", {name: [run["rate"] for run in r] for name, r in results.items()})


def full_run(recipe: str) -> Section:
    run = harness.child("recipe_run", recipe=recipe)
    validation = run["validation"]
    best = max(range(len(validation)), key=validation.__getitem__)
    settings = ", ".join(f"{key} {value}" for key, value in RECIPES[recipe].items())
    rows = [[f"`{recipe}`", len(validation), f"{validation[-1]:.4f}", f"{validation[best]:.4f} (epoch {best + 1})",
             f"**{run['test']:.4f}**", f"{run['test'] - SEED_TEST_ACCURACY:+.4f}", f"{run['seconds'] / 60:.1f} min",
             f"{statistics.median(run['epoch_seconds']):.0f} s",
             f"{min(run['loads']):.1f}–{max(run['loads']):.1f}"]]
    note = (f"Recipe `{recipe}` (lenet_protos.contract.RECIPES): {settings}. Trained on the train split's first "
            f"{VALIDATION_START:,} images, the validation split's {VALIDATION_SIZE:,} scored after every epoch "
            "(validation_only: the test set is never scored while training); the last epoch's model is then scored on "
            f"the 10,000 test images once. The seed's figure to beat is {SEED_TEST_ACCURACY} (its full run through the "
            "service, above; the notebook reports 0.9901). Validation per epoch: "
            + " ".join(f"{value:.4f}" for value in validation) + ".")
    return Section(f"Recipe \"{recipe}\": a full run, chosen on validation, scored on test once",
                   ["recipe", "epochs", "validation (last)", "validation (best)", "test accuracy", "vs seed 0.9911",
                    "wall time", "median epoch", "load average"], rows, note,
                   f"python -m bench recipe --full --recipe {recipe}", run)


def run(args, service=None) -> list[Section]:
    sections = [speed(args.images // 2, args.repeats)]
    if args.full:
        sections.append(full_run(args.recipe))
    return sections
