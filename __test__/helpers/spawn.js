'use strict'
// Runs a process with stdin ignored and collects its output, killing it (SIGKILL) after timeoutMs.
// Resolves { code, signal, stdout, stderr, timedOut, ms }; never rejects (a spawn error lands in stderr).

const { spawn } = require('node:child_process')

function spawnCollect(cmd, args, { cwd, env, timeoutMs, onStdout, onStderr }) {
  return new Promise((resolve) => {
    const started = Date.now()
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, timeoutMs)
    child.stdout.on('data', (d) => {
      stdout += d
      if (onStdout) onStdout(String(d), child)
    })
    child.stderr.on('data', (d) => {
      stderr += d
      if (onStderr) onStderr(String(d), child)
    })
    child.on('error', (e) => (stderr += `\nspawn error: ${e.message}`))
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, timedOut, ms: Date.now() - started })
    })
  })
}

module.exports = { spawnCollect }
