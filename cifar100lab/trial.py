"""The trainer's side of a tuning trial: the run's ``trial`` setting names its Optuna trial; each epoch's
validation top-1 is reported to it and the study's pruner asked whether to stop. The test set is never looked
at: a trial evaluates its validation split where a run evaluates the test set, so its ``final`` is validation
top-1 too (the record's ``tuning`` says so)."""
from __future__ import annotations

from dataclasses import replace

from .optuna_parts import build_pruner, storage_from_env


class TrialReport:
    """One trial's reports, from the run's main process; the decision to stop reaches every process."""

    def __init__(self, trial: dict, accelerator):
        self.accelerator, self.spec, self._trial = accelerator, trial, None
        if accelerator.is_main_process:
            import optuna
            study = optuna.load_study(study_name=trial["study"], storage=storage_from_env(),
                                      pruner=build_pruner(trial["pruner"]))
            self._trial = optuna.trial.Trial(study, trial["trial_id"])

    @staticmethod
    def held_out(dataset):
        """The dataset with its validation split where the test set was: a trial never sees the test set."""
        return replace(dataset, test_x=dataset.val_x, test_y=dataset.val_y)

    def prune_reason(self, row: dict) -> str | None:
        """Report the epoch's validation top-1; why the pruner stops the run here, or None to go on."""
        reason = None
        if self._trial is not None:
            self._trial.report(row["val_top1"], step=row["epoch"])
            if self._trial.should_prune():
                reason = (f"pruned by the study's {self.spec['pruner']['kind']} pruner after epoch {row['epoch']}: "
                          f"validation top-1 {row['val_top1']:.2f} trails the earlier trials at that epoch")
        if self.accelerator.num_processes > 1:
            from accelerate.utils import broadcast_object_list
            reason = broadcast_object_list([reason])[0]
        return reason


def trial_report(run) -> TrialReport | None:
    """The trial a run is (``config.trial``, set by ``tune``), noted in its record; None for any other run."""
    trial = run.cfg.trial
    if not trial:
        return None
    run.record["tuning"] = {"study": trial["study"], "trial": trial["number"],
                            "held_out": "the validation split, evaluated in place of the test set"}
    return TrialReport(trial, run.accelerator)
