// One learner's panes, for their workshop's instructor: on to the read-only watch view.
import type { Metadata } from 'next';
import { notFound } from 'next/navigation';
import { isLang } from '../../../../../../lib/i18n';
import { WORKSHOP_STRINGS } from '../../../../../../lib/workshop-strings';
import { LearnerWatch } from '../../../../../../components/LearnerWatch';

export async function generateMetadata({ params }: { params: Promise<{ lang: string }> }): Promise<Metadata> {
  const { lang } = await params;
  if (!isLang(lang)) return {};
  return { title: `${WORKSHOP_STRINGS[lang].watch} · nslab`, robots: { index: false, follow: false }, referrer: 'no-referrer' };
}

export default async function LearnerPage({ params }: { params: Promise<{ lang: string; workshop: string; seat: string }> }) {
  const { lang, workshop, seat } = await params;
  if (!isLang(lang) || !/^[a-z0-9]{6,32}$/.test(workshop) || !/^[a-z0-9]{6,32}$/.test(seat)) notFound();
  return <LearnerWatch lang={lang} workshop={workshop} seat={seat} />;
}
