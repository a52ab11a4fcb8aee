import { Injectable } from '@nestjs/common';
import { AppAccess } from '../apps/app-access.service';
import { invalid } from '../common/errors';
import type { AppMetricsHistory } from '../metrics/history';
import { MetricsHistory } from '../metrics/metrics-history.service';
import type { User } from '../users/user.entity';

/** `?minutes=`: how much of the kept hour to answer; absent, all of it. */
export function metricsMinutes(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 60;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isInteger(n) || n < 1 || n > 60) throw invalid('?minutes', 'range', 'must be a whole number from 1 to 60');
  return n;
}

/** An app's recent traffic and its gears' CPU and memory, for whoever may read the app. */
@Injectable()
export class AppMetricsService {
  constructor(
    private readonly access: AppAccess,
    private readonly history: MetricsHistory,
  ) {}

  async recent(user: User, domain: string, appName: string, minutesRaw: string | undefined): Promise<AppMetricsHistory> {
    const minutes = metricsMinutes(minutesRaw);
    const { app } = await this.access.requireApp(user, domain, appName, 'read');
    return this.history.history(app.id, minutes);
  }
}
