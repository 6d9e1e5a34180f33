"""Symmetry groups of the periodic square: the dihedral group D4 and integer translations.

Element names (the contract; used in files, tables and figures):

* D4: ``e, r, r2, r3, s, sr, sr2, sr3``.  ``r`` rotates counter-clockwise by 90 degrees in the
  (x, y) plane, (x, y) -> (-y, x); ``s`` reflects x -> -x; ``srk`` = s o r^k (apply r^k first,
  then s).
* translations: ``t(dx,dy)`` shifts periodically by dx cells along x and dy cells along y.
* products: ``h*t(dx,dy)`` = h o t(dx,dy) (translate first, then the D4 element h), the normal
  form of every element of D4 x translations (the Kolmogorov subgroup of the validation study
  needs e.g. ``s*t(0,4)``, :mod:`symaudit.groups.kolmogorov`).
* wrong velocity pairing (validation case 6, evaluation only): ``p*g*p`` = P o g o P, with P the
  exchange of the x and y components of every vector channel (no spatial change).  It is the
  action of g computed as if each vector's components were paired with the wrong axes (the
  netCDF axis pairing the other way round): the spatial part of g with the component matrix
  P M P.  For e, r2, sr, sr3 (M commutes with P) it IS g's action, for r, r3, s, sr2 it is not.
  P is not an element of the symmetry group; it only ever appears as ``p*g*p``.

Arrays are laid out ``(..., channel, y, x)``: x is the last axis.  A channel transforms by its
KIND (from the store's metadata, see :mod:`symaudit.datasets` and
:mod:`symaudit.groups._channels` for how the components of one vector or tensor are grouped):

* ``scalar``        s'(X) = s(M^-1 X)
* ``vector``        w'(X) = M w(M^-1 X) (the x and y components of one named vector mix)
* ``pseudoscalar``  p'(X) = det(M) p(M^-1 X)
* ``tensor``        T'(X) = M T(M^-1 X) M^T (rank 2: the components xx, xy, yx, yy of one
  named tensor mix)

where M is the 2x2 signed permutation matrix of the element.  Translations move every channel
and leave components alone.  :func:`act` is the ONE implementation of all of this, for numpy
arrays and torch tensors alike; it only permutes, flips, rolls and negates, so it is exact
(bitwise) and differentiable.  :func:`act_transition` applies an element to an (input, target)
pair: for D4 x translations it is :func:`act` on both.

Elements acting on transitions only (:func:`act_transition`; :func:`act` refuses them):

* ``boost(m,n)``: the Galilean boost by U = (m, n) / (N dt) on the periodic unit square (dt the
  dataset's frame spacing, :func:`frame_geometry`), so U dt is (m, n) whole cells.  Input: +U on
  velocities (compressible Euler: momentum + rho U, energy + m . U + rho |U|^2 / 2, density
  kept); target: the same, then rolled by (m, n) cells.  Exact on the grid.
* ``scale(alpha)``: the mass scaling of compressible Euler, density, momentum and energy times
  alpha (input and target); refused for incompressible NS (no exact scaling at fixed viscosity
  and grid).

* ``neg``: the velocity negation u -> -u (velocity and momentum negated, density and energy
  kept) on input and target alike; an involution commuting with D4 x translations, not a
  symmetry of NS or Euler (:mod:`._kinematic`).  For velocity-only data ``p*g*p`` = g o neg at
  r, r3, s, sr2 (P M P = -M there).

All three read each channel's ROLE (``role``: :data:`ROLES`, density | momentum | energy |
velocity), not only its kind.  Boosts form an infinite group (boost(m,n) o boost(m',n') =
boost(m+m',n+n'), inverse boost(-m,-n)), scalings too (alpha multiplies): neither is an element
of a finite group, so there is NO twirl over them (the twirl decomposition, the twirled models
and twirl-based augmentation are for finite subgroups of D4 x translations only).

Modules: ``_elements`` (names, parsing, matrices, composition), ``_channels`` (channel kinds
and the component map of a D4 element), ``_kinematic`` (boosts and scalings: names, roles,
pointwise parts), ``_action`` (:func:`act`, :func:`act_transition`), ``_sets`` (named element
sets, :data:`TRANSITION_SETS` ``boost`` and ``scale`` beside :data:`ELEMENT_SETS`),
:mod:`~symaudit.groups.kolmogorov` (the subgroup G(N, k) of Kolmogorov-forced flow).
"""

from __future__ import annotations

from . import kolmogorov
from ._action import act, act_transition, parse_transition
from ._channels import KINDS
from ._elements import D4, Element, commutes_with_exchange, compose, inverse, matrix, parse
from ._kinematic import NEGATE, ROLES, Boost, Negate, Scale, frame_geometry
from ._sets import BOOSTS, ELEMENT_SETS, SCALES, TRANSITION_SETS, elements

__all__ = [
    "BOOSTS",
    "D4",
    "ELEMENT_SETS",
    "KINDS",
    "NEGATE",
    "ROLES",
    "SCALES",
    "TRANSITION_SETS",
    "Boost",
    "Element",
    "Negate",
    "Scale",
    "act",
    "act_transition",
    "commutes_with_exchange",
    "compose",
    "elements",
    "frame_geometry",
    "inverse",
    "kolmogorov",
    "matrix",
    "parse",
    "parse_transition",
]
