"""The benchmark prompt suite: text-to-video prompts of human motion, from everyday to athletic.

Written for this project (not the paper's prompts). Each motion category has three graded
intensities (1 = gentle, 2 = moderate, 3 = vigorous: faster, higher, more airborne or more
extreme joint angles) and each of those a ``plain`` prompt (one short sentence) and a
``detailed`` one (subject, setting, camera and the motion spelled out), so a lab can measure
both the intensity penalty (scores falling as the motion gets harder) and whether detailed
prompts help. Ids are stable: ``<category>-<intensity:02d>-<variant>``, e.g. ``run-03-detailed``.

``humanscore prompts [--output FILE]`` writes the suite as CSV or JSON; a manifest's
``prompt_id`` column joins generated clips back to it (:mod:`humanscore_torch.benchmark.manifest`).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from typing import Dict, List, Tuple

from ..errors import HumanScoreError

INTENSITY_LEVELS: Tuple[int, ...] = (1, 2, 3)
VARIANTS: Tuple[str, ...] = ("plain", "detailed")
FIELDS: Tuple[str, ...] = ("id", "category", "intensity", "variant", "text")

# A detailed prompt is the plain action placed in a described shot: the action is the same, so
# plain vs detailed compares the wording, not the motion.
_SHOT = ("{who} {action}, {where}. Full body in frame from head to feet, {camera}, natural "
         "daylight, realistic proportions, {detail}.")

# category -> one (plain action, who, where, camera, detail) per intensity level, gentle first.
_CATEGORIES: Dict[str, Tuple[Tuple[str, str, str, str, str], ...]] = {
    "walk": (
        ("walks slowly along a path", "An elderly man in a grey cardigan", "on a park path lined with trees",
         "static camera at hip height, side view", "heel strikes first and the arms swing gently"),
        ("walks briskly down a street", "A young woman in a denim jacket", "on a city pavement",
         "tracking shot from the side", "long strides with a clear arm swing"),
        ("power-walks uphill", "A fit middle-aged woman in sportswear", "up a steep grassy hill",
         "tracking shot from the front", "the torso leans forward and the arms pump hard"),
    ),
    "run": (
        ("jogs at an easy pace", "A man in a blue running shirt", "along a riverside trail",
         "tracking shot from the side", "relaxed shoulders and short, light steps"),
        ("runs at a steady pace", "A female runner in a red vest", "on an athletics track",
         "tracking shot from the side", "both feet leave the ground in every stride"),
        ("sprints at full speed", "A sprinter in a racing singlet", "down the straight of a stadium track",
         "fast tracking shot from the side", "high knee drive and powerful arm action"),
    ),
    "jump": (
        ("hops in place", "A child in a yellow t-shirt", "on a school playground",
         "static camera, front view", "small rhythmic hops on both feet"),
        ("does a standing long jump", "A teenage boy in shorts", "in a sand pit",
         "static camera, side view", "arms swing back then forward before take-off"),
        ("does a tuck jump as high as possible", "An athlete in a gym outfit", "in a bright sports hall",
         "static camera, front view", "knees pulled to the chest at the top, soft landing"),
    ),
    "dance": (
        ("sways to slow music", "A woman in a summer dress", "in a living room",
         "static camera, front view", "weight shifting from foot to foot, arms loose"),
        ("dances energetically to pop music", "A young man in a hoodie", "in a dance studio with mirrors",
         "static camera, front view", "quick steps, hip movements and arm gestures"),
        ("performs a breakdance routine with spins", "A b-boy in a tracksuit", "on a street dance floor",
         "static camera, low angle", "footwork on the floor, a freeze and a back spin"),
    ),
    "ballet": (
        ("does a slow plie at the barre", "A ballerina in a black leotard", "in a ballet studio",
         "static camera, side view", "turned-out feet, straight back, knees bending over the toes"),
        ("performs a pirouette", "A ballet dancer in a white tutu", "on a theatre stage",
         "static camera, front view", "one full turn on the ball of the foot, the other foot at the knee"),
        ("performs a grand jete across the stage", "A male ballet dancer in tights", "on a large stage",
         "tracking shot from the side", "a leap with both legs split in the air"),
    ),
    "martial-arts": (
        ("practises a slow tai chi form", "An older woman in loose white clothes", "in a quiet garden",
         "static camera, front view", "slow continuous arm circles with the weight shifting"),
        ("throws a sequence of punches", "A boxer with red gloves", "in a boxing gym",
         "static camera, three-quarter view", "jab, cross and hook with the hips rotating"),
        ("performs a spinning hook kick", "A taekwondo athlete in a white dobok", "on a competition mat",
         "static camera, side view", "a full turn on the support foot, the kicking leg whipping high"),
    ),
    "parkour": (
        ("steps over a low wall", "A young man in cargo pants", "in an urban plaza",
         "static camera, side view", "one hand on the wall, the legs lifted over it"),
        ("vaults over a railing", "A traceur in a grey hoodie", "between concrete blocks",
         "tracking shot from the side", "both hands on the rail, the legs swinging through"),
        ("runs up a wall and does a backflip", "A freerunner in black", "against a city building",
         "static camera, side view", "two steps up the wall, a full backward rotation, landing on both feet"),
    ),
    "gymnastics": (
        ("does a forward roll on a mat", "A girl in a purple leotard", "in a gymnastics hall",
         "static camera, side view", "chin tucked, rolling over the back and standing up"),
        ("does a cartwheel", "A gymnast in a blue leotard", "on a floor exercise mat",
         "static camera, front view", "hands down one after the other, legs passing over the head"),
        ("does a round-off back handspring", "A gymnast in competition attire", "on a sprung floor",
         "static camera, side view", "a half turn into a backward handspring with the arms extended"),
    ),
    "basketball": (
        ("dribbles a basketball while walking", "A teenager in a basketball jersey", "on an outdoor court",
         "static camera, side view", "the ball bounced with one hand at waist height"),
        ("shoots a jump shot", "A basketball player in a white jersey", "on an indoor court",
         "static camera, three-quarter view", "knees bend, a jump and the ball released at the top"),
        ("drives to the basket and dunks", "A tall basketball player", "in a packed arena",
         "tracking shot from the side", "two fast steps, a take-off from one foot and a dunk"),
    ),
    "soccer": (
        ("passes a football gently", "A boy in a green kit", "on a grass pitch",
         "static camera, side view", "the inside of the foot meeting the ball"),
        ("runs with the ball at the feet", "A female footballer in a striped kit", "on a stadium pitch",
         "tracking shot from the side", "small touches on the ball at running pace"),
        ("strikes a powerful shot on goal", "A striker in a red kit", "at the edge of the penalty area",
         "static camera, side view", "a long last stride, the kicking leg swinging through fully"),
    ),
    "tennis": (
        ("bounces a tennis ball on the racket", "A woman in a white tennis dress", "on a clay court",
         "static camera, front view", "the racket held at waist height, small wrist movements"),
        ("hits a forehand from the baseline", "A tennis player in a cap", "on a hard court",
         "static camera, side view", "a step into the shot and the torso rotating through"),
        ("serves at full power", "A professional tennis player", "on a grass court",
         "static camera, side view", "the ball tossed high, the back arching and a jump into the serve"),
    ),
    "exercise": (
        ("does slow squats", "A man in a grey t-shirt", "in a home gym",
         "static camera, side view", "feet shoulder-width apart, thighs down to parallel"),
        ("does push-ups", "A woman in workout clothes", "on a yoga mat",
         "static camera, side view", "a straight body from head to heels, chest to the floor"),
        ("does burpees as fast as possible", "An athlete in a tank top", "in a crossfit gym",
         "static camera, front view", "a squat, a plank, a push-up and an explosive jump in each repetition"),
    ),
}


@dataclass(frozen=True)
class Prompt:
    """One prompt of the suite.

    Attributes:
        id: ``<category>-<intensity:02d>-<variant>``, stable across releases.
        category: the motion category (``walk``, ``run``, ``ballet``, ...).
        intensity: 1 (gentle), 2 (moderate) or 3 (vigorous).
        variant: ``plain`` or ``detailed``.
        text: the prompt.
    """

    id: str
    category: str
    intensity: int
    variant: str
    text: str


def prompt_id(category: str, intensity: int, variant: str) -> str:
    """The stable id of a prompt, e.g. ``prompt_id("run", 3, "detailed") == "run-03-detailed"``."""
    return f"{category}-{intensity:02d}-{variant}"


def prompt_suite() -> List[Prompt]:
    """Every prompt, by category (everyday first), intensity, then plain before detailed."""
    prompts = []
    for category, levels in _CATEGORIES.items():
        for intensity, (action, who, where, camera, detail) in zip(INTENSITY_LEVELS, levels):
            texts = {"plain": f"A person {action}.",
                     "detailed": _SHOT.format(who=who, action=action, where=where, camera=camera, detail=detail)}
            prompts += [Prompt(prompt_id(category, intensity, v), category, intensity, v, texts[v]) for v in VARIANTS]
    return prompts


def prompts_by_id() -> Dict[str, Prompt]:
    """The suite as id -> :class:`Prompt`."""
    return {p.id: p for p in prompt_suite()}


def prompts_text(prompts: List[Prompt], fmt: str) -> str:
    """The prompts as ``"csv"`` (header ``id,category,intensity,variant,text``) or ``"json"`` (a
    list of objects with those keys)."""
    rows = [asdict(p) for p in prompts]
    if fmt == "json":
        return json.dumps(rows, indent=1) + "\n"
    if fmt == "csv":
        buffer = io.StringIO(newline="")
        writer = csv.DictWriter(buffer, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue()
    raise HumanScoreError(f"prompt suite format: expected 'csv' or 'json', got {fmt!r}")


__all__ = ["FIELDS", "INTENSITY_LEVELS", "VARIANTS", "Prompt", "prompt_id", "prompt_suite", "prompts_by_id",
           "prompts_text"]
