//! Variable-time SM2 signature verification for **public** data (offline data authentication),
//! with precomputed tables for the points that come back: the generator, each CA key, each
//! issuer key seen more than once.
//!
//! The field arithmetic is the `sm2` crate's own `FieldElement` (fiat-crypto, reached through
//! `elliptic_curve::hazmat::FieldArithmetic`); the tables are built with its `ProjectivePoint`
//! and batch normalisation. On top of them this module has only point formulas in Jacobian
//! coordinates for a = −3 (Bernstein–Lange Explicit-Formulas Database: `dbl-2001-b`,
//! `madd-2007-bl`, `add-2007-bl`) with the exceptional cases (identity, equal points, opposite
//! points) handled by branches, which is fine in variable time. Jacobian coordinates let the
//! final check compare x·Z² with X instead of paying a field inversion for the affine x.
//!
//! Fixed points use a signed fixed-window table ([`FixedBaseTable`]): scalar k is written as
//! Σ dᵢ·2^(w·i) with |dᵢ| ≤ 2^(w−1), and the table holds j·2^(w·i)·P for j = 1..2^(w−1), so
//! \[k\]P is one table addition per window and no doubling at all. A point seen once (a card's
//! ICC key) has no table worth building; it goes through a width-5 w-NAF with 256 doublings.
//!
//! Results equal the `sm2` crate's verification (tests here, in [`crate::sm2`] and in
//! `crate::oda::sm2`). Never use any of this with secret values.
// Without `std` no table is built (see `oda::sm2`): the builders are unused there.
#![cfg_attr(not(feature = "std"), allow(dead_code))]

use alloc::vec::Vec;

use sm2::elliptic_curve::ff::PrimeField;
use sm2::elliptic_curve::hazmat::FieldArithmetic;
use sm2::elliptic_curve::point::AffineCoordinates;
use sm2::elliptic_curve::{BatchNormalize, Group};
use sm2::{AffinePoint, FieldBytes, ProjectivePoint, Scalar};

/// An element of the SM2 base field, the `sm2` crate's type.
type Fe = <sm2::Sm2 as FieldArithmetic>::FieldElement;

/// The group order n of sm2p256v1 (GB/T 32918.5-2016 §2), big-endian.
const ORDER: [u8; 32] = [
    0xFF, 0xFF, 0xFF, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0x72, 0x03, 0xDF, 0x6B, 0x21, 0xC6, 0x05, 0x2B, 0x53, 0xBB, 0xF4, 0x09, 0x39, 0xD5, 0x41, 0x23,
];

/// p − n (128 bits, big-endian, zero-extended): an x-coordinate below p is ≡ c (mod n) for
/// c = x or, when c < p − n, also c + n.
const P_MINUS_N: [u8; 32] = [
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x8D, 0xFC, 0x20, 0x94, 0xDE, 0x39, 0xFA, 0xD4,
    0xAC, 0x44, 0x0B, 0xF6, 0xC6, 0x2A, 0xBE, 0xDC,
];

/// Window width of the tables of the generator and of CA keys: 44 windows of 32 points,
/// 1,408 points, 90,112 bytes each.
pub(crate) const FIXED_WINDOW: u32 = 6;
/// Window width of issuer-key tables: 53 windows of 16 points, 848 points, 54,272 bytes each.
pub(crate) const ISSUER_WINDOW: u32 = 5;

/// A curve point in affine coordinates, never the identity (table entries).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Affine {
    x: Fe,
    y: Fe,
}

impl Affine {
    /// From the `sm2` crate's affine point; `None` for the identity.
    pub(crate) fn from_point(point: &AffinePoint) -> Option<Self> {
        if bool::from(point.is_identity()) {
            return None;
        }
        let x = Option::<Fe>::from(Fe::from_repr(point.x()))?;
        let y = Option::<Fe>::from(Fe::from_repr(point.y()))?;
        Some(Self { x, y })
    }

    fn neg(&self) -> Self {
        Self {
            x: self.x,
            y: -self.y,
        }
    }
}

/// A point in Jacobian coordinates (X/Z², Y/Z³); Z = 0 is the identity.
#[derive(Clone, Copy, Debug)]
struct Jacobian {
    x: Fe,
    y: Fe,
    z: Fe,
}

impl Jacobian {
    const IDENTITY: Self = Self {
        x: Fe::ONE,
        y: Fe::ONE,
        z: Fe::ZERO,
    };

    fn from_affine(p: &Affine) -> Self {
        Self {
            x: p.x,
            y: p.y,
            z: Fe::ONE,
        }
    }

    fn is_identity(&self) -> bool {
        bool::from(self.z.is_zero())
    }

    fn neg(&self) -> Self {
        Self {
            x: self.x,
            y: -self.y,
            z: self.z,
        }
    }

    /// 2P, `dbl-2001-b` (a = −3): 3M + 5S. The identity doubles to itself (Z stays 0); the
    /// curve has no point of order 2.
    fn double(&self) -> Self {
        let delta = self.z.square();
        let gamma = self.y.square();
        let beta = self.x * gamma;
        let t = (self.x - delta) * (self.x + delta);
        let alpha = t.double() + t;
        let beta4 = beta.double().double();
        let x3 = alpha.square() - beta4.double();
        let z3 = (self.y + self.z).square() - gamma - delta;
        let gamma2 = gamma.square().double();
        let y3 = alpha * (beta4 - x3) - gamma2.double().double();
        Self {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// P + Q for an affine Q, `madd-2007-bl`: 7M + 4S.
    fn add_affine(&self, q: &Affine) -> Self {
        if self.is_identity() {
            return Self::from_affine(q);
        }
        let z1z1 = self.z.square();
        let u2 = q.x * z1z1;
        let s2 = q.y * self.z * z1z1;
        let h = u2 - self.x;
        let r = (s2 - self.y).double();
        if bool::from(h.is_zero()) {
            return if bool::from(r.is_zero()) {
                self.double()
            } else {
                Self::IDENTITY
            };
        }
        let hh = h.square();
        let i = hh.double().double();
        let j = h * i;
        let v = self.x * i;
        let x3 = r.square() - j - v.double();
        let y3 = r * (v - x3) - (self.y * j).double();
        let z3 = (self.z + h).square() - z1z1 - hh;
        Self {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// P + Q, `add-2007-bl`: 11M + 5S.
    fn add(&self, q: &Self) -> Self {
        if self.is_identity() {
            return *q;
        }
        if q.is_identity() {
            return *self;
        }
        let z1z1 = self.z.square();
        let z2z2 = q.z.square();
        let u1 = self.x * z2z2;
        let u2 = q.x * z1z1;
        let s1 = self.y * q.z * z2z2;
        let s2 = q.y * self.z * z1z1;
        let h = u2 - u1;
        let r = (s2 - s1).double();
        if bool::from(h.is_zero()) {
            return if bool::from(r.is_zero()) {
                self.double()
            } else {
                Self::IDENTITY
            };
        }
        let i = h.double().square();
        let j = h * i;
        let v = u1 * i;
        let x3 = r.square() - j - v.double();
        let y3 = r * (v - x3) - (s1 * j).double();
        let z3 = ((self.z + q.z).square() - z1z1 - z2z2) * h;
        Self {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// Whether this point (not the identity) has affine x ≡ `c` (mod n), for c < n: x = c or
    /// x = c + n (x < p < 2n), compared as X = x·Z² (no inversion).
    fn x_matches_mod_n(&self, c: &Scalar) -> bool {
        let repr = c.to_repr();
        let Some(fc) = Option::<Fe>::from(Fe::from_repr(repr)) else {
            return false;
        };
        let zz = self.z.square();
        if fc * zz == self.x {
            return true;
        }
        if repr.as_slice() < &P_MINUS_N[..] {
            let Some(order) = Option::<Fe>::from(Fe::from_repr(FieldBytes::from(ORDER))) else {
                return false;
            };
            return (fc + order) * zz == self.x;
        }
        false
    }
}

/// j·2^(w·i)·P for every window i and j = 1..2^(w−1): \[k\]P by additions only.
pub(crate) struct FixedBaseTable {
    window: u32,
    /// Row i holds the 2^(w−1) multiples of 2^(w·i)·P, rows one after the other.
    points: Vec<Affine>,
}

impl core::fmt::Debug for FixedBaseTable {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FixedBaseTable")
            .field("window", &self.window)
            .field("points", &self.points.len())
            .finish()
    }
}

/// Number of signed windows of width `w` for a 256-bit scalar: one more than ⌈256 / w⌉ for the
/// last carry.
fn windows(w: u32) -> usize {
    256usize.div_ceil(w as usize) + 1
}

impl FixedBaseTable {
    /// The table of `point` (not the identity) with window width `window` (2..=8).
    pub(crate) fn new(point: &ProjectivePoint, window: u32) -> Option<Self> {
        if bool::from(point.is_identity()) || !(2..=8).contains(&window) {
            return None;
        }
        let per_row = 1usize << (window - 1);
        let rows = windows(window);
        let mut projective = Vec::with_capacity(rows * per_row);
        let mut base = *point;
        for _ in 0..rows {
            let mut multiple = base;
            projective.push(multiple);
            for _ in 1..per_row {
                multiple += base;
                projective.push(multiple);
            }
            // multiple = 2^(w−1)·base; the next row's base is 2^w·base.
            base = multiple.double();
        }
        let affine =
            <ProjectivePoint as BatchNormalize<[ProjectivePoint]>>::batch_normalize(&projective);
        let points = affine
            .iter()
            .map(Affine::from_point)
            .collect::<Option<Vec<_>>>()?;
        Some(Self { window, points })
    }

    /// Bytes the table occupies (its points).
    #[cfg(test)]
    pub(crate) fn size_bytes(&self) -> usize {
        self.points.len() * core::mem::size_of::<Affine>()
    }

    /// \[k\]P, one mixed addition per non-zero signed digit of k.
    fn mul(&self, k: &Scalar) -> Jacobian {
        let w = self.window;
        let per_row = 1usize << (w - 1);
        let bytes = k.to_repr();
        let bit = |i: usize| -> u32 {
            if i >= 256 {
                0
            } else {
                u32::from((bytes[31 - i / 8] >> (i % 8)) & 1)
            }
        };
        let mut acc = Jacobian::IDENTITY;
        let mut carry = 0u32;
        for row in 0..windows(w) {
            let start = row * w as usize;
            let value = (0..w as usize).fold(0u32, |v, b| v | (bit(start + b) << b)) + carry;
            let (digit, negative) = if value > 1 << (w - 1) {
                carry = 1;
                ((1u32 << w) - value, true)
            } else {
                carry = 0;
                (value, false)
            };
            if digit == 0 {
                continue;
            }
            let entry = &self.points[row * per_row + digit as usize - 1];
            acc = if negative {
                acc.add_affine(&entry.neg())
            } else {
                acc.add_affine(entry)
            };
        }
        acc
    }
}

/// \[k\]P for a point without a table: width-5 w-NAF (odd multiples P, 3P, …, 15P), left to
/// right.
fn mul_wnaf(point: &Affine, k: &Scalar) -> Jacobian {
    const W: u32 = 5;
    let bytes = k.to_repr();
    // k as five little-endian limbs (room for the carries of the recoding).
    let mut limbs = [0u64; 5];
    for (i, limb) in limbs.iter_mut().take(4).enumerate() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[24 - 8 * i..32 - 8 * i]);
        *limb = u64::from_be_bytes(word);
    }
    let mut digits = [0i8; 258];
    let mut len = 0;
    while limbs.iter().any(|&l| l != 0) {
        let mut digit = 0i8;
        if limbs[0] & 1 == 1 {
            let m = (limbs[0] & ((1 << W) - 1)) as i8;
            digit = if m >= 1 << (W - 1) { m - (1 << W) } else { m };
            if digit > 0 {
                sub_small(&mut limbs, digit.unsigned_abs());
            } else {
                add_small(&mut limbs, digit.unsigned_abs());
            }
        }
        digits[len] = digit;
        len += 1;
        shift_right_one(&mut limbs);
    }
    let base = Jacobian::from_affine(point);
    let twice = base.double();
    let mut odd = [base; 1 << (W - 2)];
    for i in 1..odd.len() {
        odd[i] = odd[i - 1].add(&twice);
    }
    let mut acc = Jacobian::IDENTITY;
    for &digit in digits[..len].iter().rev() {
        acc = acc.double();
        if digit > 0 {
            acc = acc.add(&odd[(digit as usize) / 2]);
        } else if digit < 0 {
            acc = acc.add(&odd[(digit.unsigned_abs() as usize) / 2].neg());
        }
    }
    acc
}

fn sub_small(limbs: &mut [u64; 5], v: u8) {
    let mut borrow = u64::from(v);
    for limb in limbs.iter_mut() {
        let (s, b) = limb.overflowing_sub(borrow);
        *limb = s;
        borrow = u64::from(b);
        if borrow == 0 {
            break;
        }
    }
}

fn add_small(limbs: &mut [u64; 5], v: u8) {
    let mut carry = u64::from(v);
    for limb in limbs.iter_mut() {
        let (s, c) = limb.overflowing_add(carry);
        *limb = s;
        carry = u64::from(c);
        if carry == 0 {
            break;
        }
    }
}

fn shift_right_one(limbs: &mut [u64; 5]) {
    for i in 0..limbs.len() {
        let high = limbs.get(i + 1).map_or(0, |&h| h << 63);
        limbs[i] = (limbs[i] >> 1) | high;
    }
}

/// How the public key enters \[t\]P_A.
#[derive(Clone, Copy)]
pub(crate) enum KeyPoint<'a> {
    /// A fixed point with its table (CA key, known issuer key).
    Table(&'a FixedBaseTable),
    /// A point met once (an ICC key, a new issuer key): w-NAF.
    Point(&'a Affine),
}

/// GB/T 32918.2-2016 §7.1 steps B5–B7 on checked inputs: with t = r + s ≠ 0 (the caller checks
/// r, s ∈ [1, n−1] and t ≠ 0), (x₁, y₁) = \[s\]G + \[t\]P_A must not be the identity and
/// (e + x₁) mod n must equal r. `generator` is the generator's table.
pub(crate) fn check_signature_point(
    generator: &FixedBaseTable,
    key: KeyPoint<'_>,
    e: &Scalar,
    r: &Scalar,
    s: &Scalar,
    t: &Scalar,
) -> bool {
    let sg = generator.mul(s);
    let tp = match key {
        KeyPoint::Table(table) => table.mul(t),
        KeyPoint::Point(point) => mul_wnaf(point, t),
    };
    let sum = sg.add(&tp);
    if sum.is_identity() {
        return false;
    }
    // e + x₁ ≡ r (mod n) ⇔ x₁ ≡ r − e (mod n).
    sum.x_matches_mod_n(&(*r - e))
}

/// The generator's table (width [`FIXED_WINDOW`]).
pub(crate) fn generator_table() -> Option<FixedBaseTable> {
    FixedBaseTable::new(&ProjectivePoint::generator(), FIXED_WINDOW)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is a test failure
mod tests {
    use super::*;
    use sm2::elliptic_curve::ops::Reduce;

    fn scalar(seed: u64) -> Scalar {
        let mut bytes = [0u8; 32];
        let mut z = seed;
        for chunk in bytes.chunks_mut(8) {
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            chunk.copy_from_slice(&(x ^ (x >> 31)).to_be_bytes());
        }
        <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(bytes))
    }

    fn affine_x(p: &Jacobian) -> Fe {
        let zinv = p.z.invert().unwrap();
        p.x * zinv.square()
    }

    fn crate_x(p: &ProjectivePoint) -> Fe {
        Fe::from_repr(p.to_affine().x()).unwrap()
    }

    /// The tables, the w-NAF and the formulas give the `sm2` crate's \[k\]P, for random k and
    /// for the edge scalars (1, 2, n − 1, digits at the window limits).
    #[test]
    fn scalar_multiplication_matches_the_sm2_crate() {
        let g = ProjectivePoint::generator();
        let p = g * scalar(99);
        let pa = Affine::from_point(&p.to_affine()).unwrap();
        let tables = [
            FixedBaseTable::new(&p, FIXED_WINDOW).unwrap(),
            FixedBaseTable::new(&p, ISSUER_WINDOW).unwrap(),
            FixedBaseTable::new(&p, 2).unwrap(),
        ];
        let minus_one = -Scalar::ONE;
        let mut ks: Vec<Scalar> = (0..40).map(scalar).collect();
        ks.extend([
            Scalar::ONE,
            Scalar::from(2u64),
            Scalar::from(16u64),
            Scalar::from(32u64),
            Scalar::from(33u64),
            minus_one,
            minus_one - Scalar::ONE,
        ]);
        for k in ks {
            let expected = crate_x(&(p * k));
            for table in &tables {
                assert_eq!(affine_x(&table.mul(&k)), expected);
            }
            assert_eq!(affine_x(&mul_wnaf(&pa, &k)), expected);
        }
        // [n−1]P + P = identity; P + P through the exceptional branches equals 2P.
        let j = Jacobian::from_affine(&pa);
        assert!(mul_wnaf(&pa, &minus_one).add(&j).is_identity());
        assert!(tables[0].mul(&minus_one).add_affine(&pa).is_identity());
        assert_eq!(affine_x(&j.add(&j)), crate_x(&p.double()));
        assert_eq!(affine_x(&j.add_affine(&pa)), crate_x(&p.double()));
        assert!(Jacobian::IDENTITY.double().is_identity());
        assert!(FixedBaseTable::new(&ProjectivePoint::IDENTITY, 5).is_none());
        assert_eq!(tables[0].size_bytes(), 44 * 32 * 64);
    }
}
