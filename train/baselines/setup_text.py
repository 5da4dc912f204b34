"""The benchmark page's Setup section and U-Net budget wording, from the run plan (`train/benchmark.py`)."""

from __future__ import annotations

import argparse

from train.baselines import runner
from train.baselines.registration import SETTINGS as REGISTRATION_SETTINGS
from train.baselines.unet import UNetConfig


def setup_lines(args: argparse.Namespace, p: dict, unet_meta: dict, smoke_slices: int, smoke_unet: dict) -> list[str]:
    """The page's Setup lines: weights, U-Net trainings and data, scribbles, registration, processes."""
    lines = []
    if p["sha"]:
        m = p["meta"]
        lines.append(f"CrossMR weights `{p['weights'].name}` sha256 {p['sha'][:16]}…, trained with protocol "
                     f"{m.get('protocol', '?')}, {m.get('steps', '?')} steps, {m.get('minutes', '?')} min "
                     f"(`{m.get('command', '?')}`).")
    for method, meta in unet_meta.items():
        c = meta["config"]
        precision = ("bfloat16 autocast" if c["bf16"] else "float32") + (
            f", trained on {c['train_device']}" if c["train_device"] != "cpu" else "")
        lines.append(f"{runner.ROW_NAMES[method]}: DynUNet patch {c['patch']}, features {c['base_filters']}.."
                     f"{c['max_filters']}, batch {c['batch']}, {precision}, {meta['steps']} steps in {meta['minutes']} min "
                     f"(budget {budget_text(UNetConfig(**c))}){training_text(meta)}, {len(set(meta['volumes']))} training volumes.")
    data = p["unet_data"]
    phantoms = f"{data['phantoms'][0]}-{data['phantoms'][-1]}" if data["phantoms"] else "none"
    repeat = f", each listed {data['chaos_repeat']} times as in CrossMR's training" if data["chaos_repeat"] > 1 else ""
    lines.append(f"U-Net training data: CHAOS subjects {' '.join(data['chaos']) or 'none'} (T2-SPIR{repeat}); "
                 f"generated seeds {phantoms} (T1w only).")
    lines.append("Scribbles: CHAOS dense = a stroke per organ on every slice holding it, sparse = one slice per "
                 "organ; generated studies: dense, on T1w only. On CHAOS (reference = target) Grow from seeds "
                 "(a) and (b) are the same computation.")
    lines.append(f"Registration rows (generated studies only; a CHAOS study holds one series): "
                 f"{REGISTRATION_SETTINGS.key()}; SimpleITK threads = torch threads.")
    lines.append(f"Methods run {'each in its own process' if args.isolate else 'one after another in one process'}; "
                 f"{args.threads} torch threads.")
    if args.smoke:
        lines.append(f"Smoke: {smoke_slices} slices per study, U-Nets {smoke_unet}.")
    return lines


def training_text(meta: dict) -> str:
    """How a U-Net was trained: how many trainings ran at once, with how many torch threads each."""
    taken = f", taken from {meta['taken_from']} (not retrained in this run)" if meta.get("taken_from") else ""
    if "torch_threads" not in meta:
        return taken
    return f", trained {meta['jobs']} at a time with {meta['torch_threads']} torch thread(s) each{taken}"


def budget_text(config: UNetConfig) -> str:
    """A U-Net's training budget in words."""
    if config.max_steps:
        return f"{config.max_steps} steps"
    return f"{config.minutes:g} min of wall time"


def budget_rule(args: argparse.Namespace, crossmr_meta: dict, budgets: list[str]) -> str:
    """The training budget as the fairness rules state it."""
    text = " / ".join(budgets)
    if args.smoke or args.unet_minutes:
        return text
    return (f"{text}, a step budget sized to CrossMR's training time ({crossmr_meta.get('minutes', '?')} min on 2 "
            "cores): 78 min bought a U-Net 1077-1151 steps in four wall-clock-budgeted trainings on the machine of "
            "the 2026-12-03 benchmark; steps rather than minutes so that a second run, or a slower machine, trains "
            "the same networks")
