import { CsvError, parse } from "csv-parse/sync";
import { emptySample, metricValue, type Sample } from "../core/sample.ts";
import { corruptFile, type ParsedRide } from "./ride_file.ts";

type Field = Exclude<keyof Sample, "time">;

/** Accepted CSV header names (case-insensitive) for each sample field. */
export const csvColumns: Record<keyof Sample, readonly string[]> = {
  time: ["epoch_ms", "time", "timestamp"],
  power: ["power", "watts", "power_w"],
  cadence: ["cadence", "cadence_rpm"],
  heartRate: ["heart_rate", "heartrate", "hr", "heart_rate_bpm"],
  speed: ["speed_kmh", "speed"],
  distance: ["distance_m", "distance"],
  altitude: ["altitude_m", "altitude", "elevation", "ele"],
  lat: ["lat", "latitude"],
  lon: ["lon", "lng", "longitude"],
};

const byName = new Map<string, keyof Sample>(
  Object.entries(csvColumns).flatMap(([field, names]) =>
    names.map((name) => [name, field as keyof Sample])
  ),
);

/** The records of a CSV text with the line each ends on; a malformed quote is a 400. */
function records(text: string): { cells: string[]; line: number }[] {
  try {
    // Rows of the wrong length and stray quotes inside unquoted cells are ours to judge, as they
    // were before the parser: the length check names the line, the stray quote stays text.
    const ends: number[] = [];
    const rows = parse(text, {
      bom: true,
      trim: true,
      relax_column_count: true,
      relax_quotes: true,
      on_record: (record, { lines }) => {
        ends.push(lines);
        return record;
      },
    });
    return rows.map((cells, i) => ({ cells, line: ends[i] }));
  } catch (err) {
    if (err instanceof CsvError) {
      throw corruptFile("invalid_csv", `CSV line ${err.lines ?? "?"}: ${err.message}`);
    }
    throw err;
  }
}

function parseTime(cell: string, line: number): number {
  const ms = /^\d+(\.\d+)?$/.test(cell) ? Number(cell) : Date.parse(cell);
  if (!Number.isFinite(ms)) {
    throw corruptFile(
      "invalid_csv",
      `CSV line ${line}: time must be epoch milliseconds or an ISO 8601 date-time`,
    );
  }
  return Math.round(ms);
}

/**
 * Reads a ride CSV: a header row naming a time column (`epoch_ms`, `time` or `timestamp`: epoch
 * milliseconds or ISO 8601) and any of the metric columns in `csvColumns`; one row per sample,
 * an empty cell is a missing value. Unknown columns are ignored; a header without a time column
 * or without any metric column, a repeated column, or a row with the wrong number of cells is a
 * 400. Values outside the plausible ranges are dropped.
 */
export function parseCsv(text: string): ParsedRide {
  // Trailing blank lines are no rows; a blank line between rows is a row of one empty cell.
  const rows = records(text.replace(/^\uFEFF/, "").replace(/\s+$/, ""));
  if (rows.length === 0) throw corruptFile("invalid_csv", "CSV file is empty");
  const header = rows[0].cells.map((h) => h.toLowerCase());
  const fields: (keyof Sample | null)[] = header.map((h) => byName.get(h) ?? null);
  const seen = new Set<keyof Sample>();
  for (const [i, field] of fields.entries()) {
    if (!field) continue;
    if (seen.has(field)) {
      throw corruptFile("invalid_csv", `CSV header names ${field} twice (${header[i]})`);
    }
    seen.add(field);
  }
  const timeIndex = fields.indexOf("time");
  if (timeIndex < 0 || seen.size < 2) {
    throw corruptFile(
      "invalid_csv",
      "CSV header must name a time column (epoch_ms, time or timestamp) and at least one " +
        "metric column (power, cadence, heart_rate, speed_kmh, distance_m, altitude_m, lat, lon)",
    );
  }
  const samples: Sample[] = [];
  for (const { cells: row, line } of rows.slice(1)) {
    if (row.length !== header.length) {
      throw corruptFile(
        "invalid_csv",
        `CSV line ${line} has ${row.length} cells; the header has ${header.length}`,
      );
    }
    const sample = emptySample(parseTime(row[timeIndex], line));
    for (let j = 0; j < row.length; j++) {
      const field = fields[j];
      if (!field || field === "time" || row[j] === "") continue;
      sample[field as Field] = metricValue(field as Field, row[j]);
    }
    samples.push(sample);
  }
  return { samples, sport: null, title: null };
}

const exportColumns: [string, Field][] = [
  ["power", "power"],
  ["cadence", "cadence"],
  ["heart_rate", "heartRate"],
  ["speed_kmh", "speed"],
  ["distance_m", "distance"],
  ["altitude_m", "altitude"],
  ["lat", "lat"],
  ["lon", "lon"],
];

/** Writes samples as CSV (the tests/fixtures/rides layout plus lat and lon); numbers round-trip exactly. */
export function writeCsv(samples: readonly Sample[]): string {
  const lines = [["epoch_ms", ...exportColumns.map(([name]) => name)].join(",")];
  for (const s of samples) {
    const row = [String(s.time)];
    for (const [, field] of exportColumns) row.push(s[field] === null ? "" : String(s[field]));
    lines.push(row.join(","));
  }
  return lines.join("\n") + "\n";
}
