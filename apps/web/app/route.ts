// `/`: send the learner to the course in their language: an explicit earlier choice (the
// nslab_lang cookie the language switcher sets) first, else the Accept-Language header.
import type { NextRequest } from 'next/server';
import { pickLang } from '../lib/accept-language';

export const dynamic = 'force-dynamic';

export function GET(req: NextRequest): Response {
  const chosen = req.cookies.get('nslab_lang')?.value;
  const lang = chosen === 'en' || chosen === 'zh' ? chosen : pickLang(req.headers.get('accept-language'));
  return new Response(null, {
    status: 307,
    headers: { location: `/${lang}`, vary: 'Accept-Language, Cookie', 'cache-control': 'no-store' },
  });
}
