//! HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST. The algorithm and
//! the byte format are `tine_core::types::hll`'s; this file owns what the commands do
//! around it as Redis 7.0 does: which lookups count, when the cached cardinality is written
//! back (PFCOUNT of one key, a change that is propagated), the keyspace events, the errors.

use super::{Argv, CmdError, CmdResult, err};
use crate::commands::Ctx;
use crate::config::custom::notify;
use crate::engine::session::Session;
use tine_core::base;
use tine_core::keyspace::{Str, Value};
use tine_core::types::hll;

const INVALID_HLL: CmdError =
    CmdError::new("INVALIDOBJ", "INVALIDOBJ Corrupted HLL object detected");
const NOT_HLL: CmdError =
    CmdError::new("WRONGTYPE", "WRONGTYPE Key is not a valid HyperLogLog string value.");

/// The HLL bytes of a looked-up value: None for a missing key, WRONGTYPE for another type,
/// Redis's "not a valid HyperLogLog" for a string that is not one.
fn hll_of(v: Option<&Value>) -> Result<Option<Vec<u8>>, CmdError> {
    match v {
        None => Ok(None),
        Some(Value::Str(s)) => {
            let b = s.to_vec();
            if hll::is_valid(&b) { Ok(Some(b)) } else { Err(NOT_HLL) }
        }
        Some(_) => Err(err::WRONGTYPE),
    }
}

fn sparse_max(srv: &Ctx<'_>) -> usize {
    srv.data.config.hll_sparse_max_bytes.max(0) as usize
}

/// Redis's dbUnshareStringValue, which PFADD, PFCOUNT and PFDEBUG call whatever they then
/// do: a string that is not "raw" (an HLL written with SET is "embstr" up to 44 bytes)
/// becomes raw.
fn unshare(srv: &mut Ctx<'_>, db: usize, key: &[u8], h: &[u8]) {
    if matches!(srv.data.keyspace[db].peek(key), Some(Value::Str(s)) if s.encoding() != "raw") {
        store(srv, db, key, h.to_vec());
    }
}

fn store(srv: &mut Ctx<'_>, db: usize, key: &[u8], b: Vec<u8>) {
    srv.data.keyspace.set(db, key, Value::Str(Str::from_modified(b)), true);
}

pub(crate) fn pfadd(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let found = hll_of(srv.lookup_read_nostats(c.db, &argv[1]))?;
    let mut updated = 0u64;
    let mut h = match found {
        Some(b) => {
            unshare(srv, c.db, &argv[1], &b);
            b
        }
        None => {
            updated += 1;
            hll::new_sparse()
        }
    };
    let max = sparse_max(srv);
    for ele in &argv[2..] {
        match hll::add(&mut h, ele, max) {
            Ok(true) => updated += 1,
            Ok(false) => {}
            // Nothing is stored: the HLL is left as it was.
            Err(hll::Corrupt) => return Err(INVALID_HLL),
        }
    }
    if updated > 0 {
        hll::invalidate_cache(&mut h);
        store(srv, c.db, &argv[1], h);
        srv.notify(notify::STRING, "pfadd", &argv[1], c.db);
        srv.data.dirty += updated;
    }
    c.add_int((updated > 0) as i64);
    Ok(())
}

pub(crate) fn pfcount(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    if argv.len() > 2 {
        let mut max = vec![0u8; hll::REGISTERS];
        for key in &argv[1..] {
            let Some(h) = hll_of(srv.lookup_read(c.db, key))? else {
                continue;
            };
            hll::merge_into(&mut max, &h).map_err(|_| INVALID_HLL)?;
        }
        c.add_int(hll::count_registers(&max) as i64);
        return Ok(());
    }
    let Some(mut h) = hll_of(srv.lookup_read(c.db, &argv[1]))? else {
        c.add_int(0);
        return Ok(());
    };
    unshare(srv, c.db, &argv[1], &h);
    let card = match hll::cached_card(&h) {
        Some(card) => card,
        None => {
            let card = hll::count(&h).map_err(|_| INVALID_HLL)?;
            // The estimate goes into the header: a change (propagated as Redis does).
            hll::set_cached_card(&mut h, card);
            store(srv, c.db, &argv[1], h);
            srv.data.dirty += 1;
            card
        }
    };
    c.add_int(card as i64);
    Ok(())
}

pub(crate) fn pfmerge(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let mut max = vec![0u8; hll::REGISTERS];
    let mut use_dense = false;
    // The destination is a source too.
    for key in &argv[1..] {
        let Some(h) = hll_of(srv.lookup_read(c.db, key))? else {
            continue;
        };
        use_dense |= hll::is_dense(&h);
        hll::merge_into(&mut max, &h).map_err(|_| INVALID_HLL)?;
    }
    let found = hll_of(srv.lookup_read_nostats(c.db, &argv[1]))?;
    let mut h = found.unwrap_or_else(hll::new_sparse);
    if use_dense {
        hll::sparse_to_dense(&mut h).map_err(|_| INVALID_HLL)?;
    }
    let limit = sparse_max(srv);
    for (i, &m) in max.iter().enumerate() {
        if m != 0 {
            hll::set_register(&mut h, i, m, limit).map_err(|_| INVALID_HLL)?;
        }
    }
    hll::invalidate_cache(&mut h);
    store(srv, c.db, &argv[1], h);
    // A PFADD event: a merge is a mass add.
    srv.notify(notify::STRING, "pfadd", &argv[1], c.db);
    srv.data.dirty += 1;
    c.add_ok();
    Ok(())
}

pub(crate) fn pfdebug(srv: &mut Ctx<'_>, c: &mut Session, argv: &Argv) -> CmdResult {
    let cmd = base::lower(&argv[1]);
    let Some(mut h) = hll_of(srv.lookup_read_nostats(c.db, &argv[2]))? else {
        return Err(CmdError::new("ERR", "ERR The specified key does not exist"));
    };
    unshare(srv, c.db, &argv[2], &h);
    match cmd.as_str() {
        "getreg" => {
            if hll::sparse_to_dense(&mut h).map_err(|_| INVALID_HLL)? {
                store(srv, c.db, &argv[2], h.clone());
                srv.data.dirty += 1;
            }
            let regs = hll::dense_registers(&h);
            c.add_array(regs.len());
            for r in regs {
                c.add_int(r as i64);
            }
        }
        "decode" => {
            if hll::is_dense(&h) {
                return Err(CmdError::new("ERR", "ERR HLL encoding is not sparse"));
            }
            c.add_bulk(hll::decode_sparse(&h).as_bytes());
        }
        "encoding" => c.add_simple(if hll::is_dense(&h) { "dense" } else { "sparse" }),
        "todense" => {
            let conv = hll::sparse_to_dense(&mut h).map_err(|_| INVALID_HLL)?;
            if conv {
                store(srv, c.db, &argv[2], h);
                srv.data.dirty += 1;
            }
            c.add_int(conv as i64);
        }
        _ => {
            return Err(CmdError::err_echo("Unknown PFDEBUG subcommand '", &argv[1], None, "'"));
        }
    }
    Ok(())
}

pub(crate) fn pfselftest(_srv: &mut Ctx<'_>, c: &mut Session, _argv: &Argv) -> CmdResult {
    match hll::self_test() {
        Ok(()) => c.add_ok(),
        Err(msg) => c.add_err(&msg),
    }
    Ok(())
}
