/**
 * Reading Prometheus text exposition (what /metrics serves) for the e2e tests: samples matched by
 * exact metric name and exact label values, never by prefix, so `overlayd_peers` is not also
 * `overlayd_peers_ignored_total`. A metric the page does not expose at all is an error, not 0:
 * a renamed or unregistered metric must fail the test that reads it.
 */

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Selector {
  readonly name: string;
  /** Each must be present with exactly this value; labels not named are summed over. */
  readonly labels: Readonly<Record<string, string>>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

/** Parses `a="x",b="y\"z"` from text[at] (just after `{`); returns the labels and the index after `}`. */
function parseLabels(
  text: string,
  at: number,
  where: string,
): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = at;
  for (;;) {
    while (text[i] === ' ' || text[i] === ',') i++;
    if (text[i] === '}') return { labels, end: i + 1 };
    const name = NAME.exec(text.slice(i))?.[0];
    if (!name || text[i + name.length] !== '=' || text[i + name.length + 1] !== '"')
      throw new Error(`${where}: expected label="value" at column ${i}`);
    i += name.length + 2;
    let value = '';
    for (; i < text.length && text[i] !== '"'; i++) {
      if (text[i] === '\\') {
        const e = text[++i];
        value += e === 'n' ? '\n' : (e ?? '');
      } else value += text[i];
    }
    if (text[i] !== '"') throw new Error(`${where}: unterminated label value for ${name}`);
    labels[name] = value;
    i++;
  }
}

/** A sample value; Go's ParseFloat (Prometheus) takes NaN/Inf in any case, and prom-client writes "Nan". */
function numberOf(s: string): number {
  if (/^nan$/i.test(s)) return NaN;
  if (/^[+]?inf$/i.test(s)) return Infinity;
  if (/^-inf$/i.test(s)) return -Infinity;
  return s === '' ? NaN : Number(s);
}

/** Every sample on the page, and the names its `# TYPE` lines declare. */
export function parsePromText(text: string): { samples: Sample[]; declared: Set<string> } {
  const samples: Sample[] = [];
  const declared = new Set<string>();
  text.split('\n').forEach((line, n) => {
    if (line.startsWith('# TYPE ')) declared.add(line.split(' ')[2]!);
    if (line === '' || line.startsWith('#')) return;
    const where = `/metrics line ${n + 1}`;
    const name = NAME.exec(line)?.[0];
    if (!name) throw new Error(`${where}: no metric name in ${JSON.stringify(line)}`);
    let rest = name.length;
    let labels: Record<string, string> = {};
    if (line[rest] === '{') ({ labels, end: rest } = parseLabels(line, rest + 1, where));
    const [value] = line.slice(rest).trim().split(/\s+/); // a timestamp may follow
    const v = numberOf(value ?? '');
    if (!value || (Number.isNaN(v) && !/^nan$/i.test(value)))
      throw new Error(`${where}: no value in ${JSON.stringify(line)}`);
    samples.push({ name, labels, value: v });
  });
  return { samples, declared };
}

/** `name` or `name{a="x",b="y"}`, as written in the tests. */
export function parseSelector(text: string): Selector {
  const name = NAME.exec(text)?.[0];
  if (!name) throw new Error(`metric selector ${JSON.stringify(text)}: no metric name`);
  if (name.length === text.length) return { name, labels: {} };
  if (text[name.length] !== '{' || !text.endsWith('}'))
    throw new Error(`metric selector ${JSON.stringify(text)}: expected name or name{label="value",...}`);
  const { labels, end } = parseLabels(text, name.length + 1, `metric selector ${JSON.stringify(text)}`);
  if (end !== text.length) throw new Error(`metric selector ${JSON.stringify(text)}: text after the labels`);
  return { name, labels };
}

/** Sum of the samples matching the selector; throws when the page does not expose the metric. */
export function sumMetric(text: string, selector: string | Selector): number {
  const sel = typeof selector === 'string' ? parseSelector(selector) : selector;
  // Only this metric's lines are parsed: another metric's odd line must not fail this read.
  const mine = text
    .split('\n')
    .filter((l) => l.startsWith(`# TYPE ${sel.name} `) || NAME.exec(l)?.[0] === sel.name)
    .join('\n');
  const { samples, declared } = parsePromText(mine);
  const named = samples.filter((s) => s.name === sel.name);
  if (named.length === 0 && !declared.has(sel.name))
    throw new Error(`metric ${sel.name} is not exposed on /metrics`);
  const want = Object.entries(sel.labels);
  return named.filter((s) => want.every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);
}
