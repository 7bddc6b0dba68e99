/**
 * The one rule for what a person sees as an item's name, everywhere (tables, galleries,
 * evaluation lists, export and hold-back lists, the CLI). Pure: the core computes names with
 * it over a whole dataset and sends them with item rows, so the UI never builds names from ids
 * or from bare file names (IM0001.dcm repeats in every patient's folder).
 *
 *   DICOM:  patient · series · instance     "DOE^JANE · CT 3 Chest · #12"
 *   photo:  the shortest tail of its relative path that no other item of the dataset shares
 *           ("frankfurt/000294.png" when "munich/000294.png" is there too, else "000294.png").
 *
 * Patient names and IDs are shown as stored: the library is the clinician's own and local.
 * Where two items would still get the same name, the later one (by id) gets its path tail
 * added, then a counter: names are unique within the dataset.
 */

export const NAME_SEPARATOR = ' · ';

/** What the rule needs of an item (one row per item of the dataset). */
export interface ItemNameFacts {
  id: number;
  kind: 'dicom' | 'image';
  /** The file's path relative to what was imported, '/' or '\\' separated. */
  sourceName: string;
  patientName: string | null;
  /** PatientID (or the store's stand-in when the file had none). */
  patientId: string | null;
  modality: string | null;
  seriesNumber: number | null;
  seriesDescription: string | null;
  instanceNumber: number | null;
  /** The study's description: told apart two series that share number and description. */
  studyDescription?: string | null;
}

function clean(s: string | null | undefined): string {
  return (s ?? '').replace(/\s+/g, ' ').trim();
}

/** A series as a person reads it: "CT 3 Chest", "MR 700", "CT" (modality, number, description). */
export function seriesLabel(s: { modality: string | null; seriesNumber: number | null; seriesDescription: string | null }): string {
  const parts = [clean(s.modality), s.seriesNumber !== null ? String(s.seriesNumber) : '', clean(s.seriesDescription)].filter(Boolean);
  return parts.length ? parts.join(' ') : 'series';
}

/** The patient as stored: the name when there is one (trailing ^ dropped), else the ID. */
export function patientLabel(p: { patientName: string | null; patientId: string | null }): string {
  const name = clean(p.patientName).replace(/\^+$/, '');
  return name || clean(p.patientId);
}

function pathParts(path: string): string[] {
  return path.split(/[/\\]+/).filter((p) => p !== '' && p !== '.');
}

function baseName(path: string): string {
  return path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
}

/** Settle the tails of one group of paths that share a file name, into `out`. */
function settleGroup(group: readonly number[], paths: readonly string[], out: Map<number, string>): void {
  if (group.length === 1) {
    const i = group[0] ?? 0;
    const p = pathParts(paths[i] ?? '');
    out.set(i, p[p.length - 1] ?? paths[i] ?? '');
    return;
  }
  const parts = group.map((i) => pathParts(paths[i] ?? ''));
  // Each member's k-component tail, grown one component a round (one string each, not k).
  const tail = parts.map((p) => p[p.length - 1] ?? '');
  let open = group.map((_, g) => g);
  for (let k = 1; open.length > 0; k++) {
    const counts = new Map<string, number>();
    for (const t of tail) counts.set(t, (counts.get(t) ?? 0) + 1);
    const still: number[] = [];
    for (const g of open) {
      const depth = parts[g]?.length ?? 0;
      // Unique, or the whole path (nothing longer to show; equal paths are numbered by the caller).
      if (counts.get(tail[g] ?? '') === 1 || k >= depth) out.set(group[g] ?? 0, tail[g] ?? '');
      else still.push(g);
    }
    parts.forEach((p, g) => {
      if (k < p.length) tail[g] = `${p[p.length - 1 - k] ?? ''}/${tail[g] ?? ''}`;
    });
    open = still;
  }
}

/**
 * A finder of unique path tails: `tailOf(i)` is the shortest tail (whole path components, at
 * least the file name) of paths[i] that tells it apart from every other path. Work is done per
 * file name, and only for the file names asked about (a DICOM dataset whose names are unique
 * on their own asks for none).
 */
function tailFinder(paths: readonly string[]): (i: number) => string {
  let byBase: Map<string, number[]> | null = null;
  const settled = new Map<number, string>();
  return (i) => {
    const hit = settled.get(i);
    if (hit !== undefined) return hit;
    if (!byBase) {
      const groups = new Map<string, number[]>();
      paths.forEach((p, k) => {
        const b = baseName(p);
        const g = groups.get(b);
        if (g) g.push(k);
        else groups.set(b, [k]);
      });
      byBase = groups;
    }
    settleGroup(byBase.get(baseName(paths[i] ?? '')) ?? [i], paths, settled);
    return settled.get(i) ?? paths[i] ?? '';
  };
}

/**
 * For each path, the shortest tail (whole path components, at least the file name) that tells it
 * apart from every other path in the list. Paths that are equal keep their whole path (the caller
 * numbers them). Linear in the number of paths times their depth.
 */
export function uniquePathTails(paths: readonly string[]): string[] {
  const tailOf = tailFinder(paths);
  return paths.map((_, i) => tailOf(i));
}

/** A DICOM item's name from its own facts, or null when it has too little to be told apart by (no series facts, no instance). */
export function dicomItemName(f: ItemNameFacts): string | null {
  if (f.kind !== 'dicom' || f.instanceNumber === null) return null;
  const patient = patientLabel(f);
  return [patient, seriesLabel(f), `#${f.instanceNumber}`].filter(Boolean).join(NAME_SEPARATOR);
}

/**
 * Every item's display name, unique within the list (give it a whole dataset).
 * Returns names in the order of `items`.
 */
export function itemDisplayNames(items: readonly ItemNameFacts[]): string[] {
  const tailOf = tailFinder(items.map((i) => i.sourceName));
  const names = items.map((it, k) => {
    if (it.kind === 'dicom') {
      const own = dicomItemName(it);
      if (own !== null) return own;
    }
    const tail = tailOf(k);
    if (it.kind !== 'dicom') return tail;
    // No instance number: the series and the file name say which one it is.
    const patient = patientLabel(it);
    return [patient, it.modality || it.seriesNumber !== null || it.seriesDescription ? seriesLabel(it) : '', tail].filter(Boolean).join(NAME_SEPARATOR);
  });
  // Same name twice: first the study says which (one patient, "MR 1 FAST LOCALIZER" in two
  // studies), then the path tail (two files with one instance number in a series), then a
  // counter in id order settles what even that leaves equal.
  const qualify = (add: (it: ItemNameFacts, k: number, name: string) => string): void => {
    const count = new Map<string, number>();
    for (const n of names) count.set(n, (count.get(n) ?? 0) + 1);
    names.forEach((n, k) => {
      const it = items[k];
      if ((count.get(n) ?? 0) > 1 && it?.kind === 'dicom') names[k] = add(it, k, n);
    });
  };
  qualify((it, _k, n) => {
    const study = clean(it.studyDescription);
    const patient = patientLabel(it);
    if (!study) return n;
    return patient && n.startsWith(patient + NAME_SEPARATOR) ? `${patient}${NAME_SEPARATOR}${study}${n.slice(patient.length)}` : `${study}${NAME_SEPARATOR}${n}`;
  });
  qualify((_it, k, n) => `${n}${NAME_SEPARATOR}${tailOf(k)}`);
  const order = items.map((_, k) => k).sort((a, b) => (items[a]?.id ?? 0) - (items[b]?.id ?? 0));
  const seen = new Set<string>();
  for (const k of order) {
    const base = names[k] ?? '';
    let name = base;
    for (let n = 2; seen.has(name); n++) name = `${base} (${n})`;
    seen.add(name);
    names[k] = name;
  }
  return names;
}

/**
 * A name cut for a narrow cell: the head may be shortened with an ellipsis, the tail (its last
 * part, "· #12" or "/scene.png") must stay visible. head + tail is the name.
 */
export function splitDisplayName(name: string): { head: string; tail: string } {
  const sep = name.lastIndexOf(NAME_SEPARATOR);
  if (sep > 0) return { head: name.slice(0, sep), tail: name.slice(sep) };
  const slash = name.lastIndexOf('/');
  if (slash > 0) return { head: name.slice(0, slash), tail: name.slice(slash) };
  return { head: '', tail: name };
}

/**
 * Two lines for a grid cell: the first part (the patient), then the rest split as
 * splitDisplayName does; a name of one part (a photo's path) has no first line.
 * first + head + tail is the name.
 */
export function displayNameLines(name: string): { first: string; head: string; tail: string } {
  const sep = name.indexOf(NAME_SEPARATOR);
  if (sep > 0 && name.indexOf(NAME_SEPARATOR, sep + 1) > 0) {
    const rest = splitDisplayName(name.slice(sep));
    return { first: name.slice(0, sep), head: rest.head, tail: rest.tail };
  }
  return { first: '', ...splitDisplayName(name) };
}
