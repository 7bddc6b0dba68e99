/**
 * Train / validation / test splits of a dataset, stored in the `splits`
 * table (one row per item, origin 'auto' or 'user').
 *
 * Rules, and why:
 * - Splits are by PATIENT. Slices of one patient in both train and test
 *   inflate every metric (users.md), so all items of a DICOM patient share a
 *   split and no patient is in two. A plain image is its own group.
 * - A split a person made (origin 'user', from `setSplit` or a label file
 *   that names splits) is never changed here, not even by `redraw`.
 * - `ensureSplits` only ADDS rows: items without a split get one; existing
 *   rows never move. A new item of a patient that already has a split joins
 *   that split (so the patient stays in one split).
 * - Assignment is seeded and reproducible: the same seed and the same items
 *   give the same assignment, in any library (groups are keyed by Patient ID
 *   or by the image file's hash, not by row ids).
 *
 * How new groups are drawn (stratified, grouped): each group gets a stratum,
 * the majority of `stratifyBy` over its items (no stratifier, or no class:
 * the stratum '' ). Within a stratum the new groups are put in a seeded
 * random order and laid end to end, by item count, on a circle of
 * circumference = their total items, starting at a seeded random offset.
 * The circle is cut into arcs of the split fractions; a group goes to the
 * split under the midpoint of its stretch. Sixteen seeded offsets are tried
 * and the cut whose item counts are closest to the targets (least squares)
 * is kept. For many small groups (plain images) every cut gives each split
 * its share of the stratum to within one item, so the seeded order decides;
 * with a few large patients the best cut avoids, say, putting the biggest
 * patient in test (a stratum with one group goes to the split with the
 * largest fraction). When a stratum already has assigned items, the
 * fractions used for its new groups are what it still lacks of each
 * split's target, so additions pull it back toward the requested proportions.
 */
import type { SplitName } from '../../contract/ml';
import { FoveaException } from '../../contract/result';
import { createRandom } from '../samples/seeded-random';
import type { AuditLog } from '../store/audit-log';
import type { Db } from '../store/library-db';
import { type SplitRow, autoSplitInserter, deleteAutoSplits, itemClassesByCount, itemClassNames, listItemPatients, listSplitRows, userSplitWriter } from '../store/splits-repo';
import { inImmediateTransaction } from '../store/transaction';

export const SPLIT_NAMES: readonly SplitName[] = ['train', 'val', 'test'];

/** Seeded cuts tried per stratum (see the header). */
const OFFSET_CANDIDATES = 16;

export interface SplitFractions {
  train: number;
  val: number;
  test: number;
}

export const DEFAULT_FRACTIONS: SplitFractions = { train: 0.7, val: 0.15, test: 0.15 };

export interface EnsureSplitsOptions {
  seed: number;
  /** Non-negative, normalised to sum 1 (default 0.7 / 0.15 / 0.15). */
  fractions?: SplitFractions;
  /** The class an item counts as for stratification (null: none). See `labelStratifier`. */
  stratifyBy?: (itemId: number) => string | null;
}

type SplitCounts = Record<SplitName, number>;

export interface SplitSummary {
  datasetId: number;
  items: number;
  /** Items per split, and items without one. */
  counts: SplitCounts & { unassigned: number };
  byOrigin: { auto: number; user: number };
  /**
   * Items per class per split. With a stratifier, each item under its
   * stratifier class; without one, each item under every class it has an
   * active label of (item- or series-level), so multi-label items count
   * more than once. Items without a class are under ''.
   */
  perClass: Record<string, SplitCounts & { unassigned: number }>;
  /** Distinct DICOM patients with items in each split. */
  patients: SplitCounts;
  /** Split groups (patients and plain images) in each split. */
  groups: SplitCounts;
  /** Patients whose items are in more than one split (should be empty). */
  patientsInSeveralSplits: { patientKey: string; splits: SplitName[] }[];
  /** true when no patient spans two splits. */
  patientGrouped: boolean;
}

export interface EnsureSplitsResult extends SplitSummary {
  /** Rows written by this call. */
  assigned: number;
  /** Of those, items that joined the split their patient already had. */
  joinedPatient: number;
}

export interface SetSplitResult {
  split: SplitName;
  /** Item ids asked for (those in the dataset). */
  requested: number;
  /** Rows written: the requested items and the rest of their patients. */
  written: number;
  /** Items moved because they share a patient with a requested item. */
  addedFromPatients: number;
  /** Patients (keys) the call moved whole. */
  patients: string[];
}

interface Group {
  /** Stable across libraries: 'p:' + Patient ID, or 'i:' + source file hash. */
  key: string;
  patientKey: string | null;
  items: number[];
}

function normaliseFractions(f: SplitFractions | undefined): SplitFractions {
  const fr = f ?? DEFAULT_FRACTIONS;
  for (const s of SPLIT_NAMES) {
    if (!Number.isFinite(fr[s]) || fr[s] < 0) throw new FoveaException('VALIDATION', `The ${s} fraction must be a number ≥ 0, not ${fr[s]}.`);
  }
  const sum = fr.train + fr.val + fr.test;
  if (!(sum > 0)) throw new FoveaException('VALIDATION', 'At least one split fraction must be above 0.');
  return { train: fr.train / sum, val: fr.val / sum, test: fr.test / sum };
}

/**
 * Stratifying a few patients per stratum can leave a split with a non-zero fraction empty (6
 * patients in 3 strata: each stratum's cut favours train). When groups drawn now could fill it,
 * move one: from the split holding the most newly drawn groups (it keeps at least one), its
 * smallest group, ties broken by a seeded hash. Existing assignments are never moved.
 */
function ensureEverySplitHasAGroup(decisions: { g: Group; split: SplitName; u: number }[], fractions: SplitFractions, existing: Map<number, SplitRow>): void {
  const existingItems = zeroCounts();
  for (const r of existing.values()) existingItems[r.split]++;
  for (const s of (['val', 'test', 'train'] as const).filter((sp) => fractions[sp] > 0)) {
    const groupsIn = (sp: SplitName): typeof decisions => decisions.filter((d) => d.split === sp);
    if (existingItems[s] > 0 || groupsIn(s).length > 0) continue;
    const donor = SPLIT_NAMES.filter((sp) => sp !== s && groupsIn(sp).length >= 2).sort((a, b) => groupsIn(b).length - groupsIn(a).length)[0];
    if (!donor) continue;
    const pick = groupsIn(donor).sort((a, b) => a.g.items.length - b.g.items.length || a.u - b.u)[0];
    if (pick) pick.split = s;
  }
}

/**
 * A stratum of a few patients can fall whole into train (3 lesion patients cut 70/15/15), leaving
 * validation without a single example of it: the sample CT's lesion masks all went to train and
 * segmentation could not train. With 2 or more groups validation gets one, with 3 or more test
 * does too, taken from the split holding the most groups (never train's last).
 */
function spreadSmallStratum(drawn: { g: Group; split: SplitName; u: number }[], fractions: SplitFractions): void {
  const wants: [SplitName, number][] = [
    ['val', 2],
    ['test', 3],
  ];
  for (const [s, min] of wants) {
    if (fractions[s] <= 0 || drawn.length < min || drawn.some((d) => d.split === s)) continue;
    const groupsIn = (sp: SplitName): typeof drawn => drawn.filter((d) => d.split === sp);
    // Validation matters more than test (training needs it): test's only group may move to it.
    const donor =
      SPLIT_NAMES.filter((sp) => sp !== s && groupsIn(sp).length >= 2).sort((a, b) => groupsIn(b).length - groupsIn(a).length)[0] ??
      (s === 'val' && groupsIn('test').length > 0 ? 'test' : undefined);
    if (!donor) continue;
    const pick = groupsIn(donor).sort((a, b) => a.g.items.length - b.g.items.length || a.u - b.u)[0];
    if (pick) pick.split = s;
  }
}

function zeroCounts(): SplitCounts {
  return { train: 0, val: 0, test: 0 };
}

/** Most frequent non-null value; ties to the smallest string (deterministic). */
function majority(values: Iterable<string | null>): string | null {
  const counts = new Map<string, number>();
  for (const v of values) if (v !== null) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: string | null = null;
  let bestN = 0;
  for (const [v, n] of counts) {
    if (n > bestN || (n === bestN && best !== null && v < best)) {
      best = v;
      bestN = n;
    }
  }
  return best;
}

/**
 * A stratifier from the library's labels: an item counts as the class it has
 * most active labels of (its own and its series'), ties to the class listed
 * first in the dataset's classes; null without labels. Reads the labels once.
 */
export function labelStratifier(db: Db, datasetId: number): (itemId: number) => string | null {
  const rows = itemClassesByCount(db, datasetId);
  const byItem = new Map<number, string>();
  for (const r of rows) if (!byItem.has(r.item_id)) byItem.set(r.item_id, r.name);
  return (itemId) => byItem.get(itemId) ?? null;
}

/** A number in [0, 1) from (seed, label): a group's place in the seeded order. */
function hashUnit(seed: number, label: string): number {
  return createRandom(seed).fork(label).next();
}

export class SplitService {
  readonly #db: Db;
  readonly #audit: AuditLog | null;

  constructor(db: Db, audit: AuditLog | null = null) {
    this.#db = db;
    this.#audit = audit;
  }

  #groups(datasetId: number): { groups: Group[]; groupOf: Map<number, Group> } {
    const rows = listItemPatients(this.#db, datasetId);
    const byKey = new Map<string, Group>();
    const groupOf = new Map<number, Group>();
    for (const r of rows) {
      // A DICOM item always hangs from a patient; the fallback keeps an orphan its own group.
      const key = r.patient_key !== null ? `p:${r.patient_key}` : `i:${r.source_sha256}`;
      let g = byKey.get(key);
      if (!g) {
        g = { key, patientKey: r.patient_key, items: [] };
        byKey.set(key, g);
      }
      g.items.push(r.id);
      groupOf.set(r.id, g);
    }
    return { groups: [...byKey.values()], groupOf };
  }

  #rows(datasetId: number): Map<number, SplitRow> {
    return new Map(listSplitRows(this.#db, datasetId).map((r) => [r.item_id, r]));
  }

  /** itemId -> split for every item that has one (the provider's input). */
  splitMap(datasetId: number): Map<number, SplitName> {
    return new Map(listSplitRows(this.#db, datasetId).map((r) => [r.item_id, r.split]));
  }

  /**
   * Give every item without a split one (see the file header). Never moves
   * or redraws an existing row. One transaction.
   */
  ensureSplits(datasetId: number, options: EnsureSplitsOptions): EnsureSplitsResult {
    if (!Number.isInteger(options.seed)) throw new FoveaException('VALIDATION', `The split seed must be a whole number, not ${options.seed}.`);
    const fractions = normaliseFractions(options.fractions);
    const stratifyBy = options.stratifyBy;
    const assigned = { total: 0, joined: 0 };

    inImmediateTransaction(this.#db, () => {
      const { groups } = this.#groups(datasetId);
      const existing = this.#rows(datasetId);
      const now = new Date().toISOString();
      const insert = autoSplitInserter(this.#db);
      const stratumOf = (g: Group): string => (stratifyBy ? majority(g.items.map((id) => stratifyBy(id))) ?? '' : '');

      // Per stratum: items already assigned per split, and the groups still to draw.
      const assignedPerStratum = new Map<string, SplitCounts>();
      const pending = new Map<string, Group[]>();
      for (const g of groups) {
        const rows = g.items.map((id) => existing.get(id)).filter((r): r is SplitRow => r !== undefined);
        const missing = g.items.filter((id) => !existing.has(id));
        const stratum = stratumOf(g);
        if (rows.length === 0) {
          const list = pending.get(stratum);
          if (list) list.push(g);
          else pending.set(stratum, [g]);
          continue;
        }
        // The group has a split already: its new items join it. If the existing
        // rows disagree (a label file put one patient in two splits), a person's
        // choice wins, then the split holding most of the group.
        const user = rows.filter((r) => r.origin === 'user');
        const split = (majority((user.length > 0 ? user : rows).map((r) => r.split)) ?? 'train') as SplitName;
        for (const id of missing) {
          insert(datasetId, id, split, options.seed, now);
          assigned.total++;
          assigned.joined++;
        }
        const counts = assignedPerStratum.get(stratum) ?? zeroCounts();
        for (const r of rows) counts[r.split]++;
        counts[split] += missing.length;
        assignedPerStratum.set(stratum, counts);
      }

      const decisions: { g: Group; split: SplitName; u: number }[] = [];
      for (const stratum of [...pending.keys()].sort()) {
        const list = pending.get(stratum) as Group[];
        const have = assignedPerStratum.get(stratum) ?? zeroCounts();
        const newItems = list.reduce((n, g) => n + g.items.length, 0);
        const haveTotal = have.train + have.val + have.test;
        // What each split still lacks of its share of the whole stratum.
        const lack = zeroCounts();
        let lackSum = 0;
        for (const s of SPLIT_NAMES) {
          lack[s] = Math.max(0, fractions[s] * (haveTotal + newItems) - have[s]);
          lackSum += lack[s];
        }
        const f = lackSum > 0 ? { train: lack.train / lackSum, val: lack.val / lackSum, test: lack.test / lackSum } : fractions;

        const ordered = list
          .map((g) => ({ g, u: hashUnit(options.seed, `order/${g.key}`) }))
          .sort((a, b) => a.u - b.u || (a.g.key < b.g.key ? -1 : a.g.key > b.g.key ? 1 : 0))
          .map((e) => e.g);
        // Cut the circle at a few seeded offsets and keep the cut closest to the targets.
        const cut = (offset: number): { splits: SplitName[]; cost: number } => {
          const got = zeroCounts();
          let cum = 0;
          const splits = ordered.map((g) => {
            const mid = (offset + cum + g.items.length / 2) / newItems;
            const u = mid - Math.floor(mid);
            cum += g.items.length;
            const split: SplitName = u < f.train ? 'train' : u < f.train + f.val ? 'val' : 'test';
            got[split] += g.items.length;
            return split;
          });
          const cost = SPLIT_NAMES.reduce((c, sp) => c + (got[sp] - f[sp] * newItems) ** 2, 0);
          return { splits, cost };
        };
        let best: { splits: SplitName[]; cost: number } | null = null;
        for (let j = 0; j < OFFSET_CANDIDATES; j++) {
          const candidate = cut(hashUnit(options.seed, `offset/${stratum}/${haveTotal}/${j}`) * newItems);
          if (best === null || candidate.cost < best.cost - 1e-9) best = candidate;
        }
        const drawn = ordered.map((g, i) => ({ g, split: (best as { splits: SplitName[] }).splits[i] as SplitName, u: hashUnit(options.seed, `move/${g.key}`) }));
        if (haveTotal === 0) spreadSmallStratum(drawn, fractions);
        decisions.push(...drawn);
      }
      ensureEverySplitHasAGroup(decisions, fractions, existing);
      for (const d of decisions) {
        for (const id of d.g.items) insert(datasetId, id, d.split, options.seed, now);
        assigned.total += d.g.items.length;
      }
    });

    if (assigned.total > 0) {
      this.#audit?.append({
        action: 'splits.assign',
        objectType: 'dataset',
        objectId: datasetId,
        details: { seed: options.seed, assigned: assigned.total, joinedPatient: assigned.joined, fractions },
      });
    }
    return { ...this.summary(datasetId, stratifyBy), assigned: assigned.total, joinedPatient: assigned.joined };
  }

  /**
   * A person's split for these items (origin 'user': never redrawn). The
   * whole patient of each DICOM item moves with it, so a patient is never in
   * two splits; the result says how many items that added.
   */
  setSplit(datasetId: number, itemIds: readonly number[], split: SplitName): SetSplitResult {
    if (!SPLIT_NAMES.includes(split)) throw new FoveaException('VALIDATION', `Unknown split ${JSON.stringify(split)}.`);
    let result: SetSplitResult | null = null;
    inImmediateTransaction(this.#db, () => {
      const { groupOf } = this.#groups(datasetId);
      const requested = new Set(itemIds.filter((id) => groupOf.has(id)));
      const targets = new Set<number>();
      const patients = new Set<string>();
      for (const id of requested) {
        const g = groupOf.get(id) as Group;
        for (const member of g.items) targets.add(member);
        if (g.patientKey !== null && g.items.length > 1) patients.add(g.patientKey);
      }
      const now = new Date().toISOString();
      const upsert = userSplitWriter(this.#db);
      for (const id of targets) upsert(datasetId, id, split, now);
      result = {
        split,
        requested: requested.size,
        written: targets.size,
        addedFromPatients: targets.size - requested.size,
        patients: [...patients].sort(),
      };
    });
    const r = result as unknown as SetSplitResult;
    this.#audit?.append({
      action: 'splits.set',
      objectType: 'dataset',
      objectId: datasetId,
      details: { split, requested: r.requested, written: r.written, addedFromPatients: r.addedFromPatients },
    });
    return r;
  }

  /**
   * Draw the automatic splits again with another seed: removes every 'auto'
   * row and runs `ensureSplits`. Rows a person set stay as they are. Only on
   * an explicit request (a run's splits must not change under it).
   */
  redraw(datasetId: number, seed: number, options: Omit<EnsureSplitsOptions, 'seed'> = {}): EnsureSplitsResult {
    const removed = inImmediateTransaction(this.#db, () => deleteAutoSplits(this.#db, datasetId));
    this.#audit?.append({ action: 'splits.redraw', objectType: 'dataset', objectId: datasetId, details: { seed, removed } });
    return this.ensureSplits(datasetId, { ...options, seed });
  }

  /** Counts per split, per class per split, patients per split, and the patient-grouping check. */
  summary(datasetId: number, stratifyBy?: (itemId: number) => string | null): SplitSummary {
    const { groups } = this.#groups(datasetId);
    const rows = this.#rows(datasetId);
    const counts = { ...zeroCounts(), unassigned: 0 };
    const byOrigin = { auto: 0, user: 0 };
    const patients = zeroCounts();
    const groupCounts = zeroCounts();
    const spanning: SplitSummary['patientsInSeveralSplits'] = [];
    let items = 0;
    for (const g of groups) {
      const seen = new Set<SplitName>();
      for (const id of g.items) {
        items++;
        const r = rows.get(id);
        if (!r) {
          counts.unassigned++;
          continue;
        }
        counts[r.split]++;
        byOrigin[r.origin]++;
        seen.add(r.split);
      }
      for (const s of seen) {
        groupCounts[s]++;
        if (g.patientKey !== null) patients[s]++;
      }
      if (seen.size > 1 && g.patientKey !== null) {
        spanning.push({ patientKey: g.patientKey, splits: SPLIT_NAMES.filter((s) => seen.has(s)) });
      }
    }

    const perClass: SplitSummary['perClass'] = {};
    const add = (cls: string, itemId: number): void => {
      const c = (perClass[cls] ??= { ...zeroCounts(), unassigned: 0 });
      c[rows.get(itemId)?.split ?? 'unassigned']++;
    };
    if (stratifyBy) {
      for (const g of groups) for (const id of g.items) add(stratifyBy(id) ?? '', id);
    } else {
      const labelled = itemClassNames(this.#db, datasetId);
      const has = new Set<number>();
      for (const r of labelled) {
        add(r.name, r.item_id);
        has.add(r.item_id);
      }
      for (const g of groups) for (const id of g.items) if (!has.has(id)) add('', id);
    }
    return {
      datasetId,
      items,
      counts,
      byOrigin,
      perClass,
      patients,
      groups: groupCounts,
      patientsInSeveralSplits: spanning.sort((a, b) => (a.patientKey < b.patientKey ? -1 : 1)),
      patientGrouped: spanning.length === 0,
    };
  }
}
