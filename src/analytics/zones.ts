// Training zones: Coggan power zones (% of FTP) and heart-rate zones (% of max HR).

/** Coggan power zones in % of FTP: a second is in the lowest zone whose `maxPct` >= its %. */
export const powerZones = [
  { zone: 1, name: "Active recovery", minPct: 0, maxPct: 55 },
  { zone: 2, name: "Endurance", minPct: 55, maxPct: 75 },
  { zone: 3, name: "Tempo", minPct: 75, maxPct: 90 },
  { zone: 4, name: "Threshold", minPct: 90, maxPct: 105 },
  { zone: 5, name: "VO2max", minPct: 105, maxPct: 120 },
  { zone: 6, name: "Anaerobic", minPct: 120, maxPct: 150 },
  { zone: 7, name: "Neuromuscular", minPct: 150, maxPct: null },
] as const;

/** Heart-rate zones in % of max HR: a second is in the lowest zone whose `maxPct` > its %. */
export const heartRateZones = [
  { zone: 1, minPct: 0, maxPct: 60 },
  { zone: 2, minPct: 60, maxPct: 70 },
  { zone: 3, minPct: 70, maxPct: 80 },
  { zone: 4, minPct: 80, maxPct: 90 },
  { zone: 5, minPct: 90, maxPct: null },
] as const;

/** Time spent in one power zone. */
export type PowerZoneTime = {
  zone: number;
  name: string;
  minPct: number;
  maxPct: number | null;
  seconds: number;
};

/** Time spent in one heart-rate zone. */
export type HeartRateZoneTime = {
  zone: number;
  minPct: number;
  maxPct: number | null;
  seconds: number;
};

/** The power zone (1..7) of a wattage: upper bounds inclusive (exactly 55 % of FTP is zone 1). */
export function powerZone(watts: number, ftp: number): number {
  // Compared as watts × 100 against pct × FTP, so that whole numbers compare exactly.
  const scaled = watts * 100;
  for (let z = 0; z < powerZones.length - 1; z++) {
    if (scaled <= (powerZones[z].maxPct as number) * ftp) return z + 1;
  }
  return powerZones.length;
}

/** The heart-rate zone (1..5) of a heart rate: upper bounds exclusive (exactly 60 % is zone 2). */
export function heartRateZone(bpm: number, maxHr: number): number {
  const scaled = bpm * 100;
  for (let z = 0; z < heartRateZones.length - 1; z++) {
    if (scaled < (heartRateZones[z].maxPct as number) * maxHr) return z + 1;
  }
  return heartRateZones.length;
}

/** Power zone times from per-zone second counts (index 0 = zone 1). */
export function powerZoneTimes(seconds: ArrayLike<number>): PowerZoneTime[] {
  return powerZones.map((z, i) => ({ ...z, seconds: seconds[i] }));
}

/** Heart-rate zone times from per-zone second counts (index 0 = zone 1). */
export function heartRateZoneTimes(seconds: ArrayLike<number>): HeartRateZoneTime[] {
  return heartRateZones.map((z, i) => ({ ...z, seconds: seconds[i] }));
}
