// Started by infra/local/dynamodb.ts beside DynamoDB Local's Java: `node java-watchdog.mjs <java pid>`.
// Kills Java when the process that started both dies, however it dies (SIGKILL included): our stdin is a pipe from
// that process and reaches its end when it is gone. A signal sent here stops Java too (the starter then sees Java
// go and stops the rest); and we leave as soon as Java is gone. Plain JavaScript: it runs on node without tsx.
const pid = Number(process.argv[2]);
const alive = () => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

let ending = false;
function end() {
  if (ending) return;
  ending = true;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {}
  const since = Date.now();
  setInterval(() => {
    if (!alive()) process.exit(0);
    if (Date.now() - since > 3000) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
      process.exit(0);
    }
  }, 50);
}

if (!Number.isInteger(pid) || pid <= 0) process.exit(2);
process.stdin.on('data', () => {});
process.stdin.on('end', end);
process.stdin.on('error', end);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, end);
setInterval(() => {
  if (!alive()) process.exit(0);
}, 1000);
