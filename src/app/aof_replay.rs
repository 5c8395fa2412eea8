//! The AOF loader's executor (`persist::aof::loader::AofExecutor`): replays the AOF's
//! commands through the real command dispatcher, on the loader thread.
//!
//! The commands run on a session with no connection (`engine::session::Session`, its replies
//! dropped after each command), against a private data half (`commands::Data`: its keyspace
//! is what the load yields; its clock frozen at 0 so nothing expires during the replay, as
//! Redis expires nothing while loading; its propagation feed off) and a server with no other
//! client (`commands::ctx::NoClients`): no second `Server`, no socket.

use crate::commands::Ctx;
use crate::commands::ctx::NoClients;
use crate::commands::data::Data;
use crate::config::Config;
use crate::engine::session::Session;
use crate::persist::aof::loader::{AofExecutor, UnknownCommand};
use tine_core::keyspace::Keyspace;

/// Replays commands against a private data half through a session with no connection.
pub(crate) struct AofReplay {
    data: Data,
    client: Session,
}

/// The factory the AOF loader calls on its own thread.
pub(crate) fn new_executor(config: &Config) -> Box<dyn AofExecutor> {
    let mut data = Data::new(config.clone());
    data.clock_frozen = true;
    data.now_ms = 0;
    data.prop.disabled = true;
    let mut client = Session::new(
        0,
        usize::MAX,
        false,
        String::new(),
        String::new(),
        tine_core::base::unix_time(),
    );
    client.authenticated = true;
    Box::new(AofReplay { data, client })
}

impl AofExecutor for AofReplay {
    fn execute(&mut self, argv: &[Vec<u8>]) -> Result<(), UnknownCommand> {
        if crate::commands::registry().lookup(&argv[0]).is_none() {
            return Err(UnknownCommand);
        }
        let mut none = NoClients;
        let mut ctx = Ctx::new(&mut self.data, &mut none);
        crate::commands::call_argv(&mut ctx, &mut self.client, argv);
        crate::engine::feed::end_unit(&mut ctx);
        self.client.obuf.clear();
        self.client.errors.clear();
        Ok(())
    }

    fn in_multi(&self) -> bool {
        self.client.multi.is_some()
    }

    fn dbs_mut(&mut self) -> &mut Keyspace {
        &mut self.data.keyspace
    }

    fn load_functions(&mut self, codes: &[Vec<u8>]) -> Result<(), String> {
        crate::commands::scripting::function::load_from_persistence(
            &mut self.data,
            codes,
            false,
            false,
        )
    }

    fn function_codes(&self) -> Vec<Vec<u8>> {
        self.data.scripting.functions.codes()
    }
}
