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

/**
 * For each path, the shortest tail (whole path components, at least the file name) that tells it
 * apart from every other path in the list. Paths that are equal keep their whole path (the caller
 * numbers them). Linear in the number of paths times their depth.
 */
export function uniquePathTails(paths: readonly string[]): string[] {
  const parts = paths.map(pathParts);
  const out: string[] = parts.map((p, i) => p.join('/') || (paths[i] ?? ''));
  const byBase = new Map<string, number[]>();
  parts.forEach((p, i) => {
    const base = p[p.length - 1] ?? '';
    const group = byBase.get(base);
    if (group) group.push(i);
    else byBase.set(base, [i]);
  });
  for (const group of byBase.values()) {
    let open = group;
    for (let k = 1; open.length > 0; k++) {
      const tail = (i: number) => (parts[i] ?? []).slice(-k).join('/');
      const counts = new Map<string, number>();
      for (const i of group) counts.set(tail(i), (counts.get(tail(i)) ?? 0) + 1);
      const still: number[] = [];
      for (const i of open) {
        if (counts.get(tail(i)) === 1) out[i] = tail(i);
        else if (k >= (parts[i]?.length ?? 0)) out[i] = tail(i); // the whole path: nothing longer to show
        else still.push(i);
      }
      open = still;
    }
  }
  return out;
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
  const tails = uniquePathTails(items.map((i) => i.sourceName));
  const names = items.map((it, k) => {
    const tail = tails[k] ?? it.sourceName;
    if (it.kind !== 'dicom') return tail;
    const own = dicomItemName(it);
    if (own !== null) return own;
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
  qualify((it, k, n) => `${n}${NAME_SEPARATOR}${tails[k] ?? it.sourceName}`);
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
