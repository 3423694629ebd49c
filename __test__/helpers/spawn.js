'use strict'
// Runs a process with stdin ignored and collects its output, killing it (SIGKILL) after timeoutMs.
// Resolves { code, signal, stdout, stderr, timedOut, lingered, ms }; never rejects (a spawn error lands in stderr).
// `kill(child)` replaces the plain SIGKILL (e.g. to kill a whole process tree); once `doneWhen(stdout)` holds the
// process gets graceMs to exit by itself before it is killed (`lingered`); `onExit(child)` runs when it exits.

const { spawn } = require('node:child_process')

function spawnCollect(
  cmd,
  args,
  { cwd, env, timeoutMs, onStdout, onStderr, kill = (c) => c.kill('SIGKILL'), doneWhen, graceMs = 15000, onExit },
) {
  return new Promise((resolve) => {
    const started = Date.now()
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let timedOut = false
    let lingered = false
    let graceTimer = null
    const timer = setTimeout(() => {
      timedOut = true
      kill(child)
    }, timeoutMs)
    child.stdout.on('data', (d) => {
      stdout += d
      if (onStdout) onStdout(String(d), child)
      if (doneWhen && !graceTimer && doneWhen(stdout)) {
        graceTimer = setTimeout(() => {
          lingered = true
          kill(child)
        }, graceMs)
      }
    })
    child.stderr.on('data', (d) => {
      stderr += d
      if (onStderr) onStderr(String(d), child)
    })
    child.on('error', (e) => (stderr += `\nspawn error: ${e.message}`))
    if (onExit) child.on('exit', () => onExit(child))
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      clearTimeout(graceTimer)
      resolve({ code, signal, stdout, stderr, timedOut, lingered, ms: Date.now() - started })
    })
  })
}

/** An onStdout for a process that prints JSON lines: calls `onEvent(event)` for each complete line that parses
 * (other lines are skipped), however the output is split into chunks. */
function jsonLines(onEvent) {
  let buf = ''
  return (chunk) => {
    buf += chunk
    let nl
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl)
      buf = buf.slice(nl + 1)
      let ev
      try {
        ev = JSON.parse(line)
      } catch {
        continue
      }
      onEvent(ev)
    }
  }
}

module.exports = { spawnCollect, jsonLines }
