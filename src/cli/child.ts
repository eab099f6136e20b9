import { type ChildProcess, fork } from 'node:child_process';
import { createInterface } from 'node:readline';

// The one way this project runs work in another process: a TypeScript script under node with the
// tsx loader, its stderr relayed line by line, its exit status turned into a rejection that quotes
// the last lines it wrote (the reason a worker died is there).

const TAIL_LINES = 5;

export interface ChildOptions {
  /** Names the child in errors: "specialist s1", "member-s3". */
  label: string;
  /** Environment added to this process's (OPENBLAS_NUM_THREADS for one BLAS thread per worker). */
  env?: Record<string, string>;
  /** Node flags before the loader. */
  nodeFlags?: string[];
  /** Each line the child writes to stderr. */
  onLine?: (line: string) => void;
  /** Its own process group, so a terminal's Ctrl-C reaches the parent alone, which stops the child itself. */
  detached?: boolean;
  /** The child once spawned: for a caller that must stop it (SIGINT makes workers checkpoint and exit). */
  onSpawn?: (child: ChildProcess) => void;
}

/** Runs `script` with `args`; resolves with the last message it sent over IPC (if any) once it exits 0. */
export function runChild<Message = unknown>(script: string, args: string[],
  options: ChildOptions): Promise<Message | undefined> {
  return new Promise((resolve, reject) => {
    const child = fork(script, args, {
      execArgv: [...(options.nodeFlags ?? []), '--import', 'tsx'],
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      detached: options.detached ?? false,
    });
    options.onSpawn?.(child);
    const tail: string[] = [];
    createInterface({ input: child.stderr! }).on('line', (line) => {
      options.onLine?.(line);
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
    });
    let message: Message | undefined;
    child.on('message', (sent) => {
      message = sent as Message;
    });
    child.once('error', reject);
    // 'close', not 'exit': by then stderr has been read to its end, so the tail holds the last words.
    child.once('close', (code, signal) => {
      if (code === 0) resolve(message);
      else {reject(
          new Error(
            `${options.label}: worker exited with ${signal ?? `code ${code}`}${
              tail.length ? `: ${tail.join(' | ')}` : ''
            }`,
          ),
        );}
    });
  });
}
