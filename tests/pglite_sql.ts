/**
 * Enough of postgres.js over PGlite (its TimescaleDB build, test only) for the query functions:
 * a tagged template is one parameterised query, `sql("name")` an identifier, a template inside a
 * template a fragment, `sql.json` a JSON parameter, `sql.begin` a transaction, and columns come back camelCase as with
 * `transform: postgres.camel`.
 */
import type { PGlite } from "./deps/pglite.ts";
import postgres from "postgres";
import type { Sql } from "../src/db/client.ts";

type Identifier = { identifier: string };

/** A template not yet run: awaiting it runs it; inside another template it becomes part of it. */
class Fragment {
  constructor(
    readonly strings: TemplateStringsArray,
    readonly values: unknown[],
    readonly run: (fragment: Fragment) => Promise<Record<string, unknown>[]>,
  ) {}
  then<T>(
    resolve: (rows: Record<string, unknown>[]) => T,
    reject: (err: unknown) => T,
  ): Promise<T> {
    return this.run(this).then(resolve, reject);
  }
  catch<T>(reject: (err: unknown) => T): Promise<Record<string, unknown>[] | T> {
    return this.run(this).catch(reject);
  }
}

function build(fragment: Fragment, params: unknown[]): string {
  return fragment.strings.reduce((text, part, i) => {
    const value = fragment.values[i - 1];
    if (value instanceof Fragment) return `${text}${build(value, params)}${part}`;
    if (typeof value === "object" && value !== null && "identifier" in value) {
      return `${text}"${(value as Identifier).identifier.replaceAll('"', '""')}"${part}`;
    }
    params.push(value);
    return `${text}$${params.length}${part}`;
  });
}

/** The postgres.js-like client over `db`; `log` collects every query's text. */
export function pgliteSql(
  db: Pick<PGlite, "query">,
  options: { root?: PGlite; log?: string[] } = {},
): Sql {
  const run = async (fragment: Fragment) => {
    const params: unknown[] = [];
    const text = build(fragment, params);
    options.log?.push(text);
    const { rows } = await db.query<Record<string, unknown>>(text, params);
    return rows.map((row) =>
      Object.fromEntries(Object.entries(row).map(([key, value]) => [postgres.toCamel(key), value]))
    );
  };
  const query = (first: TemplateStringsArray | string, ...values: unknown[]) =>
    typeof first === "string" ? { identifier: first } : new Fragment(first, values, run);
  // postgres.js's sql.json(value): a JSON document parameter.
  (query as unknown as { json: (value: unknown) => string }).json = (value) =>
    JSON.stringify(value);
  const root = options.root ?? (db as PGlite);
  query.begin = (fn: (tx: Sql) => Promise<unknown>) =>
    root.transaction((tx) => fn(pgliteSql(tx, { root, log: options.log })));
  return query as unknown as Sql;
}
