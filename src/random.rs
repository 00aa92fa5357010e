//! Randomness from the operating system, for the values the kernel takes as inputs: the
//! unpredictable number (`9F37`) of each transaction. The kernel draws nothing itself, so a
//! transaction replays byte for byte from its recorded inputs.

/// The operating system's random source failed.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random source failed: {0}")]
pub struct RandomError(getrandom::Error);

/// A fresh unpredictable number (`9F37`, EMV Book 4 §6.5.6), from the OS's secure random source.
pub fn unpredictable_number() -> Result<[u8; 4], RandomError> {
    let mut number = [0u8; 4];
    getrandom::fill(&mut number).map_err(RandomError)?;
    Ok(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_differ() {
        // 16 draws of 32 bits: a repeat has probability ~3e-8.
        let draws: std::collections::BTreeSet<[u8; 4]> = (0..16)
            .map(|_| unpredictable_number().expect("OS randomness"))
            .collect();
        assert_eq!(draws.len(), 16);
    }
}
