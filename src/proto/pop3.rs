//! (in progress)
use super::dialog::{Ctx, LineMachine};
use super::lines::Line;
use crate::flow::Side;

#[derive(Default)]
pub struct Pop3Dialog {}

impl LineMachine for Pop3Dialog {
    fn on_line(&mut self, _side: Side, _line: &Line<'_>, _ctx: &mut Ctx<'_>) {}
}
