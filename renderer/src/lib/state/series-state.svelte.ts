/**
 * Navigation by patient, study and series: a dataset's series cards (series.list), grouped
 * for the Series view, and the ones the viewer's strip offers (the open series' patient).
 */
import type { ItemRow } from '../../../../electron/contract/domain';
import type { SeriesCard } from '../../../../electron/contract/series-view';
import { request } from '../api';

export interface StudyGroup {
  studyId: number;
  studyDate: string | null;
  studyDescription: string | null;
  series: SeriesCard[];
}

export interface PatientGroup {
  patient: string;
  patientId: string;
  studies: StudyGroup[];
}

/** DICOM DA "20010101" as "2001-01-01"; anything else as stored. */
export function formatStudyDate(da: string | null): string {
  if (!da) return 'no date';
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(da.trim());
  return m ? `${m[1]}-${m[2]}-${m[3]}` : da;
}

export class SeriesState {
  cards = $state.raw<SeriesCard[]>([]);
  datasetId = $state<number | null>(null);
  error = $state<string | null>(null);
  loading = $state(false);

  /** Patients, then their studies, then series, in the order the core lists them. */
  readonly groups: PatientGroup[] = $derived.by(() => {
    const out: PatientGroup[] = [];
    for (const c of this.cards) {
      let p = out.find((g) => g.patientId === c.patientId && g.patient === c.patient);
      if (!p) out.push((p = { patient: c.patient, patientId: c.patientId, studies: [] }));
      let s = p.studies.find((g) => g.studyId === c.studyId);
      if (!s) p.studies.push((s = { studyId: c.studyId, studyDate: c.studyDate, studyDescription: c.studyDescription, series: [] }));
      s.series.push(c);
    }
    return out;
  });

  async load(datasetId: number): Promise<void> {
    this.loading = true;
    const res = await request('series.list', { datasetId });
    this.loading = false;
    if (!res.ok) {
      this.error = res.error.message;
      this.cards = [];
      return;
    }
    this.error = null;
    this.datasetId = datasetId;
    this.cards = res.value;
  }

  /** Load unless this dataset's cards are here already. */
  async ensure(datasetId: number): Promise<void> {
    if (this.datasetId !== datasetId) await this.load(datasetId);
  }

  card(seriesId: number | null): SeriesCard | null {
    return seriesId === null ? null : (this.cards.find((c) => c.seriesId === seriesId) ?? null);
  }

  /** The series of the same patient as `seriesId` (itself included), by study then number. */
  siblings(seriesId: number | null): SeriesCard[] {
    const me = this.card(seriesId);
    return me ? this.cards.filter((c) => c.patientId === me.patientId) : [];
  }

  /** Display names of a series' items, by id (the viewer's title follows the slice shown). */
  async itemNames(datasetId: number, seriesId: number): Promise<ReadonlyMap<number, string>> {
    const res = await request('items.list', { datasetId, seriesId, sort: 'instance', limit: 1000, withTotal: false });
    // Built once and replaced whole (never mutated): a plain Map held in $state.raw.
    // eslint-disable-next-line svelte/prefer-svelte-reactivity -- see above
    return new Map(res.ok ? res.value.rows.map((r) => [r.id, r.displayName]) : []);
  }

  /** The row to open a series at: its middle slice (the card's), or its first. */
  async rowToOpen(card: SeriesCard): Promise<ItemRow | null> {
    if (this.datasetId === null) return null;
    const res = await request('items.list', { datasetId: this.datasetId, seriesId: card.seriesId, sort: 'instance', limit: 1000, withTotal: false });
    if (!res.ok) {
      this.error = res.error.message;
      return null;
    }
    return res.value.rows.find((r) => r.id === card.firstItemId) ?? res.value.rows[0] ?? null;
  }
}
