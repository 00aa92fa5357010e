//! `purse` cases (README §3.9): PBOC ED/EP session keys and MAC1/MAC2.

use quickpass_crypto::purse;
use quickpass_crypto::secret::SecretKey;

use super::key_derivation::compare_des_key;
use crate::conformance::case::{unsupported, Case, Check};

pub(super) fn run(case: &Case<'_>) -> Check {
    match case.str("cipher")? {
        "tdes" => {}
        other => return unsupported("cipher", other),
    }
    let key = SecretKey::new(&case.hex_array::<16>("key")?);
    let card_random: [u8; 4] = case.hex_array("card_random")?;
    let counter = int_of::<u16>(case, "counter")?;
    let amount = int_of::<u32>(case, "amount")?;
    let balance = int_of::<u32>(case, "balance")?;
    let [transaction_type] = case.hex_array::<1>("transaction_type")?;
    let terminal_id: [u8; 6] = case.hex_array("terminal_id")?;
    let date: [u8; 4] = case.hex_array("date")?;
    let time: [u8; 3] = case.hex_array("time")?;
    let data = purse::PurchaseMacData {
        amount,
        transaction_type,
        terminal_id,
        date,
        time,
    };
    match case.str("operation")? {
        "purchase" => {
            let serial = int_of::<u32>(case, "terminal_serial")?;
            let session = purse::purchase_session_key(&key, card_random, counter, serial)
                .map_err(|e| e.to_string())?;
            compare_des_key(case, "session_key", session.as_bytes())?;
            case.expect_hex(
                "mac1",
                &purse::purchase_mac1(&session, &data).map_err(|e| e.to_string())?,
            )?;
            case.expect_hex(
                "mac2",
                &purse::purchase_mac2(&session, amount).map_err(|e| e.to_string())?,
            )?;
            Ok(())
        }
        "load" => {
            let session =
                purse::load_session_key(&key, card_random, counter).map_err(|e| e.to_string())?;
            compare_des_key(case, "session_key", session.as_bytes())?;
            let mac1 = purse::load_mac1(&session, balance, amount, transaction_type, terminal_id)
                .map_err(|e| e.to_string())?;
            case.expect_hex("mac1", &mac1)?;
            case.expect_hex(
                "mac2",
                &purse::load_mac2(&session, &data).map_err(|e| e.to_string())?,
            )
        }
        other => unsupported("operation", other),
    }
}

fn int_of<T: TryFrom<u64>>(case: &Case<'_>, name: &str) -> Check<T> {
    T::try_from(case.int(name)?).map_err(|_| format!("field `{name}` out of range"))
}
