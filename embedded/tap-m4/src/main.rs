//! Whole qPBOC taps on a Cortex-M4, with the `no_std` kernel: the recorded answers of two
//! simulated offline cards (`recorded.rs`, from `cargo run --example record_m4_tap` at the
//! workspace root) are replayed through `quickpass_kernel::contactless::transact`, which selects
//! the application, reads the records, recovers the issuer and ICC keys from the test CA key and
//! verifies the fDDA signature, then approves offline: once with RSA (EMV), once with SM2/SM3
//! (PBOC 3.0).
//!
//! For each it prints (through semihosting) the outcome, the heap the tap needed at its peak (a
//! counting wrapper around the global allocator), the stack it used (painted before the tap),
//! and the SysTick count of the tap; then ends QEMU with success only if both taps were
//! approved offline with fDDA passed and every recorded exchange was used. Run it with `cargo run --release` in
//! this directory (QEMU's MPS2 AN386 board, see `.cargo/config.toml` and the README).
#![no_std]
#![no_main]

extern crate alloc;

mod recorded;

use alloc::vec::Vec;
use core::alloc::{GlobalAlloc, Layout};
use core::fmt;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{entry, exception};
use cortex_m_semihosting::{debug, hprintln};
use embedded_alloc::LlffHeap;
use panic_semihosting as _;

use quickpass_crypto::capk::{CaPublicKey, CapkIndex, CapkStore, HashAlgorithm, Rid};
use quickpass_kernel::config::{KernelConfig, TerminalConfig};
use quickpass_kernel::contactless;
use quickpass_kernel::transport::{ApduLayer, Transport, TransportError};
use quickpass_kernel::values::{Amount, TransactionDate, TransactionTime};
use quickpass_kernel::{OdaStatus, Outcome, TransactionInput};

/// Heap for the kernel: a static array in RAM (the rest of the 128 KiB is data and stack).
const HEAP_SIZE: usize = 32 * 1024;

/// The terminal configuration the host recording used (`vectors/terminals/default.json`).
const TERMINAL_JSON: &str = include_str!("../../../vectors/terminals/default.json");

/// The global allocator: `embedded-alloc`'s linked-list heap, counted.
#[global_allocator]
static HEAP: Counting = Counting {
    heap: LlffHeap::empty(),
    live: AtomicUsize::new(0),
    peak: AtomicUsize::new(0),
    allocations: AtomicUsize::new(0),
};

/// A global allocator that counts the bytes it has handed out (live and the peak since the
/// last [`Counting::reset_peak`]) and how many allocations it made.
struct Counting {
    heap: LlffHeap,
    live: AtomicUsize,
    peak: AtomicUsize,
    allocations: AtomicUsize,
}

impl Counting {
    /// Starts a new peak at what is live now, and a new allocation count.
    fn reset_peak(&self) {
        self.peak
            .store(self.live.load(Ordering::Relaxed), Ordering::Relaxed);
        self.allocations.store(0, Ordering::Relaxed);
    }
}

// SAFETY: every call goes to `LlffHeap`, a correct allocator; the counters are only statistics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, passed on unchanged.
        let ptr = unsafe { self.heap.alloc(layout) };
        if !ptr.is_null() {
            let live = self.live.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            self.peak.fetch_max(live, Ordering::Relaxed);
            self.allocations.fetch_add(1, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as for `alloc`: `ptr` came from this allocator with this layout.
        unsafe { self.heap.dealloc(ptr, layout) };
        self.live.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

/// SysTick wrap-arounds (it counts down 2^24 core clock ticks per wrap).
static SYSTICK_WRAPS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    SYSTICK_WRAPS.fetch_add(1, Ordering::Relaxed);
}

/// Core clock ticks since SysTick started (SysTick counts down from 2^24 − 1, on the core
/// clock: one tick per cycle on a real MCU; in QEMU, one per 40 instructions, see the README).
fn ticks() -> u64 {
    loop {
        let wraps = SYSTICK_WRAPS.load(Ordering::Relaxed);
        let current = cortex_m::peripheral::SYST::get_current();
        if SYSTICK_WRAPS.load(Ordering::Relaxed) == wraps {
            return u64::from(wraps) * (1 << 24) + u64::from(0x00FF_FFFF - current);
        }
    }
}

/// The recorded card: answers exchange `n` only to exactly the command recorded as `n`.
struct Replay {
    exchanges: &'static [(&'static [u8], &'static [u8])],
    next: usize,
}

/// Why the replayed card did not answer.
#[derive(Debug)]
enum ReplayError {
    /// The kernel sent a command other than the recorded one (or one too many).
    Unexpected(usize),
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplayError::Unexpected(n) => write!(f, "command {n} differs from the recording"),
        }
    }
}

impl core::error::Error for ReplayError {}
impl TransportError for ReplayError {}

impl Transport for Replay {
    type Error = ReplayError;

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, ReplayError> {
        match self.exchanges.get(self.next) {
            Some((expected, response)) if *expected == command => {
                self.next += 1;
                Ok(response.to_vec())
            }
            _ => Err(ReplayError::Unexpected(self.next)),
        }
    }
}

/// Paints the stack below the current stack pointer (minus a margin for this function) with a
/// pattern; [`stack_used`] later finds how deep the tap wrote.
const STACK_PAINT: u32 = 0xA5A5_A5A5;

extern "C" {
    /// The lowest stack address (cortex-m-rt's `link.x`).
    static _stack_end: u32;
    /// The highest stack address, where the stack starts (cortex-m-rt's `link.x`).
    static _stack_start: u32;
}

/// The stack's lowest and highest addresses (only the symbols' addresses are taken).
fn stack_bounds() -> (usize, usize) {
    (
        core::ptr::addr_of!(_stack_end) as usize,
        core::ptr::addr_of!(_stack_start) as usize,
    )
}

#[inline(never)]
fn paint_stack() {
    let (bottom, _) = stack_bounds();
    let sp = cortex_m::register::msp::read() as usize - 256;
    let mut at = bottom;
    while at < sp {
        // SAFETY: [bottom, sp) is stack memory below every live frame (256 bytes of margin
        // below this function's own), word-aligned.
        unsafe { core::ptr::write_volatile(at as *mut u32, STACK_PAINT) };
        at += 4;
    }
}

/// Bytes of stack used since [`paint_stack`]: from the top to the lowest overwritten word.
fn stack_used() -> usize {
    let (bottom, top) = stack_bounds();
    let mut at = bottom;
    // SAFETY: reads words of the stack region, word-aligned, below every live frame until the
    // first one that is not the paint.
    while at < top && unsafe { core::ptr::read_volatile(at as *const u32) } == STACK_PAINT {
        at += 4;
    }
    top - at
}

#[entry]
fn main() -> ! {
    {
        use core::mem::MaybeUninit;
        static mut HEAP_MEM: [MaybeUninit<u8>; HEAP_SIZE] = [MaybeUninit::uninit(); HEAP_SIZE];
        // SAFETY: called once, before any allocation, with memory used for nothing else.
        unsafe {
            HEAP.heap
                .init(core::ptr::addr_of_mut!(HEAP_MEM) as usize, HEAP_SIZE)
        }
    }
    let mut peripherals = cortex_m::Peripherals::take().expect("first take");
    let syst = &mut peripherals.SYST;
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(0x00FF_FFFF);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
    // The counter loads the reload value on its first tick after being enabled.
    while cortex_m::peripheral::SYST::get_current() == 0 {}

    // Calibration: `asm::delay(n)` runs n + 1 iterations of `subs; bne`, 2n + 2 instructions
    // (cortex-m 0.7.10); in QEMU with `-icount shift=0` it gives the instructions per SysTick
    // tick (on a real MCU, ticks are cycles and the instruction estimates mean nothing).
    let start = ticks();
    cortex_m::asm::delay(CALIBRATION_INSTRUCTIONS / 2 - 1);
    let calibration = Calibration(ticks() - start);
    hprintln!(
        "quickpass tap-m4; calibration: {} loop instructions in {} SysTick ticks",
        CALIBRATION_INSTRUCTIONS,
        calibration.0
    );

    let mut ok = true;
    for tap in [&recorded::RSA_FDDA, &recorded::SM2_FDDA] {
        ok &= run(tap, calibration).is_ok();
    }
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    #[allow(clippy::empty_loop)]
    loop {}
}

/// Instructions of the calibration loop.
const CALIBRATION_INSTRUCTIONS: u32 = 10_000_000;

/// SysTick ticks of the calibration loop.
#[derive(Clone, Copy)]
struct Calibration(u64);

impl Calibration {
    /// Instructions in `ticks`, under QEMU `-icount shift=0`.
    fn instructions(self, ticks: u64) -> u64 {
        ticks * u64::from(CALIBRATION_INSTRUCTIONS) / self.0.max(1)
    }
}

/// A CA key as recorded.
pub enum CaKey {
    /// An RSA key (EMV).
    Rsa {
        rid: [u8; 5],
        index: u8,
        modulus: &'static [u8],
        exponent: &'static [u8],
        checksum: &'static [u8],
    },
    /// An SM2 key (PBOC 3.0), X ‖ Y.
    Sm2 {
        rid: [u8; 5],
        index: u8,
        public_key: &'static [u8],
        checksum: &'static [u8],
    },
}

/// One recorded tap: the CA key, the transaction's inputs and the card's answers, in order
/// (C-APDU, R-APDU).
pub struct RecordedTap {
    name: &'static str,
    sm_supported: bool,
    ca: CaKey,
    amount_minor: u64,
    date: (u16, u8, u8),
    time: (u8, u8, u8),
    unpredictable_number: [u8; 4],
    exchanges: &'static [(&'static [u8], &'static [u8])],
}

fn run(recorded: &RecordedTap, calibration: Calibration) -> Result<(), ()> {
    // The set-up a validator does once at boot: configuration and CA key (an RSA key's
    // arithmetic state, an SM2 key's point and Z_A, are built here, once).
    let retained_before = HEAP.live.load(Ordering::Relaxed);
    HEAP.reset_peak();
    let start = ticks();
    let terminal = TerminalConfig::from_json(TERMINAL_JSON)
        .and_then(|t| t.edited(|p| p.terminal.sm_supported = recorded.sm_supported))
        .map_err(|e| fail("config", &e))?;
    let capk = match recorded.ca {
        CaKey::Rsa {
            rid,
            index,
            modulus,
            exponent,
            checksum,
        } => CaPublicKey::new_rsa(
            Rid(rid),
            CapkIndex(index),
            modulus,
            exponent,
            HashAlgorithm::Sha1,
            None,
            checksum,
        ),
        CaKey::Sm2 {
            rid,
            index,
            public_key,
            checksum,
        } => CaPublicKey::new_sm2(
            Rid(rid),
            CapkIndex(index),
            public_key,
            HashAlgorithm::Sm3,
            None,
            checksum,
        ),
    }
    .map_err(|e| fail("CA key", &e))?;
    let mut capks = CapkStore::new();
    capks.insert(capk).map_err(|e| fail("CA key", &e))?;
    let config = KernelConfig::new(terminal, capks);
    let (date, time) = (recorded.date, recorded.time);
    let input = TransactionInput {
        amount: Amount::from_minor(recorded.amount_minor).map_err(|e| fail("amount", &e))?,
        amount_other: Amount::ZERO,
        transaction_type: 0x00,
        date: TransactionDate::new(date.0, date.1, date.2).map_err(|e| fail("date", &e))?,
        time: TransactionTime::new(time.0, time.1, time.2).map_err(|e| fail("time", &e))?,
        unpredictable_number: recorded.unpredictable_number,
    };
    let setup_ticks = ticks() - start;
    let retained = HEAP.live.load(Ordering::Relaxed);
    let setup_peak = HEAP.peak.load(Ordering::Relaxed) - retained_before;

    // The tap: every APDU, ODA (certificate recoveries and the dynamic signature), the decision.
    HEAP.reset_peak();
    paint_stack();
    let start = ticks();
    let mut layer = ApduLayer::new(Replay {
        exchanges: recorded.exchanges,
        next: 0,
    });
    let tap = contactless::transact(&config, &input, &mut layer);
    let tap_ticks = ticks() - start;
    let stack = stack_used();
    let tap_peak = HEAP.peak.load(Ordering::Relaxed) - retained;
    let allocations = HEAP.allocations.load(Ordering::Relaxed);
    let used = layer.transport().next;
    let outcome = tap.outcome();
    let oda = tap.result.oda.status();
    let method = tap.result.oda.method;
    drop(tap);
    let left = HEAP.live.load(Ordering::Relaxed) - retained;
    drop(config);

    hprintln!(
        "tap {}: {:?}, ODA {:?} ({:?}), exchanges {}/{}",
        recorded.name,
        outcome,
        oda,
        method,
        used,
        recorded.exchanges.len()
    );
    hprintln!(
        "  set-up (config JSON + CA key): {} ticks = {} instructions, heap kept {} B, peak {} B",
        setup_ticks,
        calibration.instructions(setup_ticks),
        retained - retained_before,
        setup_peak
    );
    hprintln!(
        "  tap: {} ticks = {} instructions, heap peak {} B above the set-up ({} allocations, {} B left after), stack {} B",
        tap_ticks,
        calibration.instructions(tap_ticks),
        tap_peak,
        allocations,
        left,
        stack
    );
    if outcome == Outcome::Approved && oda == OdaStatus::Ok && used == recorded.exchanges.len() {
        Ok(())
    } else {
        hprintln!(
            "FAILED: expected an offline approval with fDDA passed on every recorded exchange"
        );
        Err(())
    }
}

fn fail(what: &str, error: &dyn fmt::Display) {
    hprintln!("FAILED: {}: {}", what, error);
}
