//! The raw RSA public operation X = S^e mod n for ODA's small exponents (3 and 2^16 + 1), in
//! **variable time**: schoolbook multiplication and squaring, then a remainder by long division
//! (Knuth, TAOCP vol. 2 §4.3.1, algorithm D) whose quotient digits come from a reciprocal of the
//! modulus's top limb computed once per key (Möller and Granlund, "Improved division by
//! invariant integers", IEEE Trans. Computers 60(2), 2011, algorithms 2 and 4).
//!
//! Why not crypto-bigint's Montgomery arithmetic: issuer and ICC keys are used once or twice
//! each, and Montgomery form needs R² mod n per key (a long division as large as the whole
//! operation) plus the conversions in and out. Long division needs nothing per key but the
//! normalised modulus and one word reciprocal, and for e = 3 it does two products and two
//! remainders in all.
//!
//! Every value here is public (CA, issuer and ICC public keys, certificates, signatures the card
//! sends in the clear), so the timing depends on the data and that protects nothing less. Never
//! use this for a private-key operation. No heap: all working storage is on the stack, sized for
//! the largest EMV modulus (1984 bits). Equality with crypto-bigint is checked in the tests on
//! 10⁵ random inputs over 200 random moduli and by the `rsa_public_op` fuzz target.

use alloc::vec::Vec;

/// Largest modulus in 64-bit limbs: 248 bytes (EMV Book 2 Annex A2.1) = 31 limbs.
const MAX_LIMBS: usize = 31;
/// How often the rare branches of the division ran (tests check that the edge cases reach
/// them).
#[cfg(test)]
static RARE_BRANCHES: [core::sync::atomic::AtomicUsize; 2] = [
    core::sync::atomic::AtomicUsize::new(0),
    core::sync::atomic::AtomicUsize::new(0),
];

/// Smallest modulus: two limbs, as the quotient estimate reads the divisor's top two.
const MIN_BYTES: usize = 16;
/// A product of two residues, plus one limb for the normalising shift.
const WIDE: usize = 2 * MAX_LIMBS + 1;

/// A public RSA modulus prepared for [`PublicModulus::pow`]: n shifted left until its top bit
/// is set, and the reciprocal of its top limb.
#[derive(Clone, Debug)]
pub(crate) struct PublicModulus {
    /// n, little-endian limbs; only the first `limbs` are used.
    modulus: [u64; MAX_LIMBS],
    /// n << shift, likewise.
    normalised: [u64; MAX_LIMBS],
    /// Number of limbs of n (⌈bytes / 8⌉).
    limbs: usize,
    /// Left shift (0..64) that sets the top bit of the top limb.
    shift: u32,
    /// ⌊(β² − 1) / d⌋ − β for the top limb d of the normalised modulus, β = 2⁶⁴.
    reciprocal: u64,
    /// Modulus length in bytes: the output length.
    bytes: usize,
}

impl PublicModulus {
    /// Prepares a big-endian modulus of 16 to 248 bytes whose first byte is not zero; `None`
    /// otherwise (the division needs two limbs; EMV moduli have at least 64 bytes).
    pub(crate) fn new(modulus: &[u8]) -> Option<Self> {
        if !(MIN_BYTES..=MAX_LIMBS * 8).contains(&modulus.len()) || modulus[0] == 0 {
            return None;
        }
        let limbs = modulus.len().div_ceil(8);
        let mut n = [0u64; MAX_LIMBS];
        limbs_from_be(modulus, &mut n[..limbs]);
        let shift = n[limbs - 1].leading_zeros();
        let mut normalised = [0u64; MAX_LIMBS];
        shift_left(&n[..limbs], shift, &mut normalised[..limbs]);
        let top = normalised[limbs - 1];
        Some(Self {
            modulus: n,
            normalised,
            limbs,
            shift,
            reciprocal: reciprocal(top),
            bytes: modulus.len(),
        })
    }

    /// base^exponent mod n as exactly `len(n)` big-endian bytes, by left-to-right square and
    /// multiply. `None` if `base` is longer than n or `exponent` is 0. The base need not be
    /// below n (it is reduced first), though ODA callers check that it is.
    pub(crate) fn pow(&self, base: &[u8], exponent: u32) -> Option<Vec<u8>> {
        if base.len() > self.bytes || exponent == 0 {
            return None;
        }
        let k = self.limbs;
        let mut x = [0u64; MAX_LIMBS];
        limbs_from_be(base, &mut x[..k]);
        // x mod n: ODA passes x < n, which needs nothing.
        if !less_than(&x[..k], &self.modulus[..k]) {
            let mut wide = [0u64; WIDE];
            wide[..k].copy_from_slice(&x[..k]);
            self.reduce(&wide, k, &mut x);
        }
        let mut acc = x;
        let top = u32::BITS - 1 - exponent.leading_zeros();
        for bit in (0..top).rev() {
            let mut product = [0u64; WIDE];
            square(&acc[..k], &mut product);
            self.reduce(&product, 2 * k, &mut acc);
            if (exponent >> bit) & 1 == 1 {
                let mut product = [0u64; WIDE];
                multiply(&acc[..k], &x[..k], &mut product);
                self.reduce(&product, 2 * k, &mut acc);
            }
        }
        let mut out = alloc::vec![0u8; self.bytes];
        limbs_to_be(&acc[..k], &mut out);
        Some(out)
    }

    /// `out[..k]` = `value[..len]` mod n.
    fn reduce(&self, value: &[u64; WIDE], len: usize, out: &mut [u64; MAX_LIMBS]) {
        let k = self.limbs;
        let d = &self.normalised[..k];
        // u = value << shift, len + 1 limbs; the quotient has len + 1 − k digits.
        let mut u = [0u64; WIDE];
        shift_left_extend(&value[..len], self.shift, &mut u[..=len]);
        let (d1, d0) = (d[k - 1], d[k - 2]);
        for j in (0..=len - k).rev() {
            let (top, next, third) = (u[j + k], u[j + k - 1], u[j + k - 2]);
            // Knuth D3: estimate q̂ from the top two limbs (exact for them), then correct it
            // with the third so it exceeds the true digit by at most one.
            let q = if top >= d1 {
                // top = d1 (the running remainder is below d): q̂ = β − 1, r̂ = top·β + next −
                // (β − 1)·d1 = next + d1.
                #[cfg(test)]
                RARE_BRANCHES[0].fetch_add(1, core::sync::atomic::Ordering::Relaxed);
                let (r, overflow) = next.overflowing_add(d1);
                if overflow {
                    u64::MAX
                } else {
                    refine(u64::MAX, r, third, d1, d0)
                }
            } else {
                let (q, r) = div_2by1(top, next, d1, self.reciprocal);
                refine(q, r, third, d1, d0)
            };
            if q == 0 {
                continue;
            }
            // D4: u[j..=j+k] −= q̂·d; D5/D6: add d back once if that went negative.
            // (The quotient digit itself is not needed, only the remainder.)
            if mul_sub(&mut u[j..=j + k], d, q) {
                #[cfg(test)]
                RARE_BRANCHES[1].fetch_add(1, core::sync::atomic::Ordering::Relaxed);
                add_back(&mut u[j..=j + k], d);
            }
            debug_assert_eq!(u[j + k], 0);
        }
        // The remainder is u[..k] < d; undo the shift.
        shift_right(&u[..k], self.shift, &mut out[..k]);
    }
}

/// a < b, for limb slices of equal length.
fn less_than(a: &[u64], b: &[u64]) -> bool {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x < y;
        }
    }
    false
}

/// Knuth D3's correction: while q̂·d0 > r̂·β + u₃, decrease q̂ and add d1 to r̂ (stop once r̂
/// overflows a limb). At most two steps.
fn refine(mut q: u64, mut r: u64, third: u64, d1: u64, d0: u64) -> u64 {
    loop {
        let lhs = u128::from(q) * u128::from(d0);
        let rhs = (u128::from(r) << 64) | u128::from(third);
        if lhs <= rhs {
            return q;
        }
        q -= 1;
        let (next, overflow) = r.overflowing_add(d1);
        if overflow {
            return q;
        }
        r = next;
    }
}

/// ⌊(β² − 1) / d⌋ − β for a normalised d (top bit set): Möller–Granlund's reciprocal, here by
/// one 128-bit division (once per key).
fn reciprocal(d: u64) -> u64 {
    debug_assert!(d >> 63 == 1);
    // The quotient lies in [β, 2β): its low limb is the quotient minus β.
    (u128::MAX / u128::from(d)) as u64
}

/// (u1·β + u0) / d for a normalised d and u1 < d, with d's reciprocal v (Möller–Granlund
/// algorithm 4): quotient and remainder, two multiplications and no division.
fn div_2by1(u1: u64, u0: u64, d: u64, v: u64) -> (u64, u64) {
    let product = u128::from(v) * u128::from(u1);
    let sum = product.wrapping_add((u128::from(u1) << 64) | u128::from(u0));
    let mut q1 = ((sum >> 64) as u64).wrapping_add(1);
    let q0 = sum as u64;
    let mut r = u0.wrapping_sub(q1.wrapping_mul(d));
    if r > q0 {
        q1 = q1.wrapping_sub(1);
        r = r.wrapping_add(d);
    }
    if r >= d {
        q1 += 1;
        r -= d;
    }
    (q1, r)
}

/// `u −= q·d` over `d.len() + 1` limbs of `u`; `true` if the result went negative (wrapped).
fn mul_sub(u: &mut [u64], d: &[u64], q: u64) -> bool {
    // One running carry holds both the product's high limb and the subtraction's borrow:
    // q·d_i + carry < 2^128 − 2^64, so its high limb plus a borrow of 1 still fits a limb.
    let mut carry = 0u64;
    let (low, high) = u.split_at_mut(d.len());
    for (ui, &di) in low.iter_mut().zip(d) {
        let p = u128::from(q) * u128::from(di) + u128::from(carry);
        let (s, borrow) = ui.overflowing_sub(p as u64);
        *ui = s;
        carry = ((p >> 64) as u64) + u64::from(borrow);
    }
    let (s, borrow) = high[0].overflowing_sub(carry);
    high[0] = s;
    borrow
}

/// `u += d` over `d.len() + 1` limbs of `u`, dropping the final carry (it cancels the borrow of
/// the subtraction that went negative).
fn add_back(u: &mut [u64], d: &[u64]) {
    let mut carry = false;
    let (low, high) = u.split_at_mut(d.len());
    for (ui, &di) in low.iter_mut().zip(d) {
        let (s, c1) = ui.overflowing_add(di);
        let (s, c2) = s.overflowing_add(u64::from(carry));
        *ui = s;
        carry = c1 | c2;
    }
    high[0] = high[0].wrapping_add(u64::from(carry));
}

/// `out[..2k]` = a·b, schoolbook (`out` starts zeroed).
fn multiply(a: &[u64], b: &[u64], out: &mut [u64; WIDE]) {
    let k = a.len();
    for (i, &ai) in a.iter().enumerate() {
        let mut carry = 0u64;
        for (oj, &bj) in out[i..i + k].iter_mut().zip(b) {
            let t = u128::from(ai) * u128::from(bj) + u128::from(*oj) + u128::from(carry);
            *oj = t as u64;
            carry = (t >> 64) as u64;
        }
        out[i + k] = carry;
    }
}

/// `out[..2k]` = a², schoolbook with each cross product computed once (`out` starts zeroed).
fn square(a: &[u64], out: &mut [u64; WIDE]) {
    let k = a.len();
    // Cross products a_i·a_j, i < j.
    for (i, &ai) in a.iter().enumerate() {
        let mut carry = 0u64;
        for (oj, &aj) in out[2 * i + 1..i + k].iter_mut().zip(&a[i + 1..]) {
            let t = u128::from(ai) * u128::from(aj) + u128::from(*oj) + u128::from(carry);
            *oj = t as u64;
            carry = (t >> 64) as u64;
        }
        out[i + k] = carry;
    }
    // Double them, then add the squares a_i² on the diagonal.
    let mut top = 0u64;
    for limb in out[..2 * k].iter_mut() {
        let next = *limb >> 63;
        *limb = (*limb << 1) | top;
        top = next;
    }
    let mut carry = 0u64;
    for (i, &ai) in a.iter().enumerate() {
        let sq = u128::from(ai) * u128::from(ai);
        let lo = u128::from(out[2 * i]) + (sq & u128::from(u64::MAX)) + u128::from(carry);
        out[2 * i] = lo as u64;
        let hi = u128::from(out[2 * i + 1]) + (sq >> 64) + (lo >> 64);
        out[2 * i + 1] = hi as u64;
        carry = (hi >> 64) as u64;
    }
    debug_assert_eq!(carry, 0);
}

/// Big-endian bytes (at most `8·out.len()`) into little-endian limbs, zero-extended.
fn limbs_from_be(bytes: &[u8], out: &mut [u64]) {
    out.fill(0);
    for (limb, chunk) in out.iter_mut().zip(bytes.rchunks(8)) {
        *limb = chunk.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    }
}

/// Little-endian limbs into exactly `out.len()` big-endian bytes (the value fits).
fn limbs_to_be(limbs: &[u64], out: &mut [u8]) {
    for (chunk, limb) in out.rchunks_mut(8).zip(limbs) {
        let bytes = limb.to_be_bytes();
        chunk.copy_from_slice(&bytes[8 - chunk.len()..]);
    }
}

/// `out` = `a << shift` (shift < 64), same length, the top bits shifted out dropped (the
/// callers' values fit).
fn shift_left(a: &[u64], shift: u32, out: &mut [u64]) {
    if shift == 0 {
        out.copy_from_slice(a);
        return;
    }
    let mut carry = 0u64;
    for (o, &limb) in out.iter_mut().zip(a) {
        *o = (limb << shift) | carry;
        carry = limb >> (64 - shift);
    }
}

/// `out` (one limb longer than `a`) = `a << shift`, shift < 64.
fn shift_left_extend(a: &[u64], shift: u32, out: &mut [u64]) {
    let (low, high) = out.split_at_mut(a.len());
    if shift == 0 {
        low.copy_from_slice(a);
        high[0] = 0;
        return;
    }
    let mut carry = 0u64;
    for (o, &limb) in low.iter_mut().zip(a) {
        *o = (limb << shift) | carry;
        carry = limb >> (64 - shift);
    }
    high[0] = carry;
}

/// `out` = `a >> shift`, shift < 64, same length.
fn shift_right(a: &[u64], shift: u32, out: &mut [u64]) {
    if shift == 0 {
        out.copy_from_slice(a);
        return;
    }
    for (i, o) in out.iter_mut().enumerate() {
        let high = a.get(i + 1).map_or(0, |&h| h << (64 - shift));
        *o = (a[i] >> shift) | high;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is a test failure
mod tests {
    use super::*;
    use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
    use crypto_bigint::{BoxedUint, Odd};

    /// The reference: crypto-bigint's Montgomery arithmetic, square and multiply (what
    /// `RsaKey` used before; its exponent bits are public, so no constant-time ladder).
    fn reference(params: &BoxedMontyParams, len: usize, base: &[u8], exponent: u32) -> Vec<u8> {
        let x = BoxedUint::from_be_slice(base, params.bits_precision()).unwrap();
        let x = BoxedMontyForm::new(x, params);
        let mut acc = x.clone();
        for bit in (0..u32::BITS - 1 - exponent.leading_zeros()).rev() {
            acc = acc.square();
            if (exponent >> bit) & 1 == 1 {
                acc = acc.mul(&x);
            }
        }
        let bytes = acc.retrieve().to_be_bytes();
        bytes[bytes.len() - len..].to_vec()
    }

    fn params(modulus: &[u8]) -> BoxedMontyParams {
        let bits = u32::try_from(modulus.len() * 8).unwrap();
        let n = BoxedUint::from_be_slice(modulus, bits).unwrap();
        BoxedMontyParams::new_vartime(Odd::new(n).unwrap())
    }

    /// SplitMix64: a small deterministic generator, so a failure reproduces.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn bytes(&mut self, len: usize) -> Vec<u8> {
            (0..len).map(|_| self.next() as u8).collect()
        }
    }

    /// A random odd modulus of `len` bytes with a non-zero first byte.
    fn random_modulus(rng: &mut Rng, len: usize) -> Vec<u8> {
        let mut n = rng.bytes(len);
        n[0] |= 1 << (rng.next() % 8);
        n[len - 1] |= 1;
        n
    }

    /// A random value below `n`, of the same length (as ODA passes it).
    fn below(rng: &mut Rng, n: &[u8]) -> Vec<u8> {
        loop {
            let mut x = rng.bytes(n.len());
            // Often short of the top: cover small values and the sizes between.
            let zeros = (rng.next() % 4 == 0).then(|| (rng.next() as usize) % n.len());
            if let Some(z) = zeros {
                x[..z].fill(0);
            }
            if x[..] < n[..] {
                return x;
            }
        }
    }

    fn check(n: &[u8], params: &BoxedMontyParams, x: &[u8], e: u32) {
        let fast = PublicModulus::new(n).unwrap().pow(x, e).unwrap();
        assert_eq!(
            fast,
            reference(params, n.len(), x, e),
            "n = {}, x = {}, e = {e}",
            hex::encode(n),
            hex::encode(x)
        );
    }

    /// 10⁵ random inputs over 200 random odd moduli of 1024 to 1984 bits (whole bytes, as EMV
    /// keys are), both EMV exponents: equal to crypto-bigint's result every time.
    #[test]
    fn equals_crypto_bigint_on_random_inputs() {
        let mut rng = Rng(0x5155_4943_4B50_4153);
        let mut count = 0;
        for _ in 0..200 {
            let len = 128 + (rng.next() as usize) % (248 - 128 + 1);
            let n = random_modulus(&mut rng, len);
            let params = params(&n);
            for i in 0..500 {
                // e = 3 for most (the common EMV exponent; 65537 costs 8× more here and in the
                // reference), 65537 for every tenth.
                let e = if i % 10 == 0 { 65_537 } else { 3 };
                let x = below(&mut rng, &n);
                check(&n, &params, &x, e);
                count += 1;
            }
        }
        assert_eq!(count, 100_000);
    }

    /// Structured moduli and inputs that reach the rare branches of the division (q̂ = β − 1,
    /// the D3 correction, the D6 add-back): limbs of all ones, a lone top bit, long zero runs,
    /// inputs n − 1, n − 2, 1, 0, powers of two. Every modulus length from 16 (the smallest
    /// accepted) to 248 bytes (EMV: 64 to 248).
    #[test]
    fn equals_crypto_bigint_on_edge_cases() {
        let mut rng = Rng(7);
        for len in 16..=248usize {
            let mut ones = vec![0xFF; len];
            ones[len - 1] = 0xFD;
            let mut top_bit = vec![0u8; len];
            top_bit[0] = 0x80;
            top_bit[len - 1] = 0x01;
            let mut mixed = random_modulus(&mut rng, len);
            for b in mixed.iter_mut().skip(1).step_by(3) {
                *b = 0xFF;
            }
            let mut low_top = vec![0xFFu8; len];
            low_top[0] = 0x01;
            for n in [ones, top_bit, mixed, low_top, random_modulus(&mut rng, len)] {
                let params = params(&n);
                let mut minus_one = n.clone();
                minus_one[len - 1] -= 1;
                let mut minus_two = n.clone();
                minus_two[len - 1] = minus_two[len - 1].wrapping_sub(2);
                let mut one = vec![0u8; len];
                one[len - 1] = 1;
                let mut power = vec![0u8; len];
                power[1] = 0x80;
                let mut pattern = n.clone();
                for b in pattern.iter_mut().skip(2) {
                    *b = 0xFF;
                }
                pattern[0] = n[0].saturating_sub(1);
                for x in [minus_one, minus_two, one, vec![0u8; len], power, pattern] {
                    if x < n {
                        check(&n, &params, &x, 3);
                        check(&n, &params, &x, 65_537);
                    }
                }
            }
        }
        // The rare branches did run (counted across the tests of this process).
        for (counter, name) in RARE_BRANCHES.iter().zip(["q̂ = β − 1", "add-back"]) {
            let runs = counter.load(core::sync::atomic::Ordering::Relaxed);
            assert!(runs > 0, "{name} never ran");
        }
    }

    #[test]
    fn rejects_what_it_cannot_do() {
        assert!(PublicModulus::new(&[]).is_none());
        assert!(PublicModulus::new(&[0xC5; 15]).is_none());
        assert!(PublicModulus::new(&[0xC5; 16]).is_some());
        assert!(PublicModulus::new(&[0x00, 0xFF]).is_none());
        assert!(PublicModulus::new(&[0xC5; 249]).is_none());
        let n = PublicModulus::new(&[0xC5; 64]).unwrap();
        assert!(n.pow(&[1; 65], 3).is_none());
        assert!(n.pow(&[1; 64], 0).is_none());
        // A base at or above n is reduced first.
        let mut x = vec![0xC5; 64];
        x[63] = 0xC7;
        let mut two = vec![0u8; 64];
        two[63] = 2;
        assert_eq!(n.pow(&x, 3).unwrap(), n.pow(&two, 3).unwrap());
    }
}
