// SIGTERM / SIGINT handling for long-running commands: block the signals before any thread
// starts (threads inherit the mask), then wait for one on the main thread and shut down in
// order. No handler runs in signal context.
#pragma once

namespace hearth::server {

void BlockTerminationSignals();
// Blocks until SIGTERM or SIGINT arrives; returns the signal number.
int WaitForTerminationSignal();

}  // namespace hearth::server
